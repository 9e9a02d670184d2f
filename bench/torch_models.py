"""Plain-PyTorch twins of two of our networks, for the benches that run PyTorch in its own venv
(bench/pytorch_compare.py, bench/zero_gamma_torch.py): ResNet-50-D and GluonCV's CIFAR ResNet-20
(v1: no ReLU after the stem's BN), with the same layers, shapes and parameter counts as ours.
Imports torch only (the venv has no MXNet)."""
from torch import nn


class Bottleneck(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        out = planes * 4
        self.body = nn.Sequential(nn.Conv2d(cin, planes, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(inplace=True),
                                  nn.Conv2d(planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes),
                                  nn.ReLU(inplace=True), nn.Conv2d(planes, out, 1, bias=False), nn.BatchNorm2d(out))
        self.last_bn = self.body[-1]
        self.down = None
        if stride != 1 or cin != out:  # ResNet-D: average, then a stride-1 projection
            pool = nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False) if stride > 1 else nn.Identity()
            self.down = nn.Sequential(pool, nn.Conv2d(cin, out, 1, bias=False), nn.BatchNorm2d(out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.body(x) + (x if self.down is None else self.down(x)))


class Basic(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes),
                                  nn.ReLU(inplace=True), nn.Conv2d(planes, planes, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(planes))
        self.last_bn = self.body[-1]
        self.down = None if stride == 1 and cin == planes else \
            nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.body(x) + (x if self.down is None else self.down(x)))


def resnet(kind, classes, channels):
    """``kind``: 'resnet50d' (224 px ImageNet layout) or 'resnet20' (GluonCV's cifar_resnet20_v1)."""
    if kind == "resnet50d":
        stem = [nn.Conv2d(channels, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
                nn.Conv2d(32, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
                nn.Conv2d(32, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                nn.MaxPool2d(3, 2, 1)]
        block, plan, cin, grow = Bottleneck, ((64, 3), (128, 4), (256, 6), (512, 3)), 64, 4
    else:
        stem = [nn.Conv2d(channels, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16)]  # GluonCV's v1: no stem ReLU
        block, plan, cin, grow = Basic, ((16, 3), (32, 3), (64, 3)), 16, 1
    layers = list(stem)
    for i, (planes, count) in enumerate(plan):
        for j in range(count):
            layers.append(block(cin, planes, 2 if (j == 0 and i > 0) else 1))
            cin = planes * grow
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))

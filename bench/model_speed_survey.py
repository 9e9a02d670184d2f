#!/usr/bin/env python
"""Training images per second of candidate small-input networks on this CPU, to size a run before
starting it (the published Fashion-MNIST ResNet-9 was chosen with it). A plain Gluon loop (NAG,
softmax cross-entropy), hybridized with static memory, synthetic 1x28x28 data, 15 seconds each.

    python bench/model_speed_survey.py            # batch 128
    python bench/model_speed_survey.py 512
"""
import sys
import time

import gluon_tricks  # noqa: F401  (OMP_NUM_THREADS)
import mxnet as mx
from mxnet import autograd, gluon

from gluon_tricks import get_model
from gluon_tricks.machine import machine_info

CANDIDATES = [("cifar_resnet20_v1d", {}), ("cifar_resnet56_v1d", {}),
              ("cifar_resnet9", {"channels": (32, 64, 128, 256)}), ("cifar_resnet9", {}),
              ("cifar_wideresnet16_10", {"channels": (64, 128, 256)}),    # WRN-16-4
              ("cifar_wideresnet16_10", {"channels": (128, 256, 512)}),   # WRN-16-8
              ("cifar_wideresnet16_10", {"channels": (64, 128, 256), "layers": (1, 1, 1)})]  # WRN-10-4


def main():
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 128
    print("machine: %(cpu)s, %(cores)s cores, OMP_NUM_THREADS=%(omp_num_threads)s, MXNet %(mxnet)s" % machine_info())
    x = mx.nd.random.uniform(shape=(batch, 1, 28, 28))
    y = mx.nd.array([i % 10 for i in range(batch)])
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    for name, settings in CANDIDATES:
        net = get_model(name, classes=10, **settings)
        net.initialize(mx.init.MSRAPrelu())
        net.hybridize(static_alloc=True, static_shape=True)
        trainer = gluon.Trainer(net.collect_params(), "nag", {"learning_rate": 0.01, "momentum": 0.9})

        def step():
            with autograd.record():
                loss = loss_fn(net(x), y)
            loss.backward()
            trainer.step(batch)
            loss.wait_to_read()
        for _ in range(3):
            step()
        steps, tic = 0, time.time()
        while time.time() - tic < 15:
            step()
            steps += 1
        seconds = time.time() - tic
        params = sum(p.data().size for p in net.collect_params().values())
        print("%-22s %-45s %6.2fM params  %6.0f img/s" % (name, settings or "", params / 1e6, steps * batch / seconds))


if __name__ == "__main__":
    main()

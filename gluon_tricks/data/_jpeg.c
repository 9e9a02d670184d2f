/* Decode only a region of a JPEG (libjpeg-turbo's jpeg_crop_scanline and jpeg_skip_scanlines).
 *
 * A random-resized crop keeps on average about half of an image, so decoding just the crop's rows
 * and columns saves work a full decode would throw away: rows below the crop are never decoded,
 * rows above it are entropy-decoded only, columns outside it skip the inverse DCT and colour
 * conversion. The GIL is released while decoding, so a thread pool decodes in parallel.
 *
 * size(data) -> (height, width), or None when data is not a JPEG this module decodes
 * region(data, y, x, h, w) -> (pixels, stride, dx) or None: BGR bytes of h rows of `stride`
 *     pixels, whose columns dx .. dx + w are the requested ones (libjpeg widens the crop to whole
 *     blocks). None for CMYK/YCCK JPEGs and broken data: the caller falls back to a full decode.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <jpeglib.h>

struct error_manager {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

static void on_error(j_common_ptr cinfo)
{
    longjmp(((struct error_manager *)cinfo->err)->jump, 1);
}

static void no_message(j_common_ptr cinfo)
{
    (void)cinfo;
}

static void quiet(struct jpeg_decompress_struct *cinfo, struct error_manager *err)
{
    cinfo->err = jpeg_std_error(&err->pub);
    err->pub.error_exit = on_error;
    err->pub.output_message = no_message;
}

static int supported(const struct jpeg_decompress_struct *cinfo)
{
    return cinfo->jpeg_color_space != JCS_CMYK && cinfo->jpeg_color_space != JCS_YCCK;
}

/* Reads the header (size into *height, *width); then, when out is not NULL, decodes rows
 * y .. y + h, columns x .. x + w (widened to whole blocks) into out, which holds
 * h * capacity * 3 bytes, and gives the row width and the offset of column x. 1 on success. */
static int read_jpeg(const unsigned char *data, size_t len, int *height, int *width, int y, int x, int h, int w,
                     unsigned char *out, int capacity, int *stride, int *dx)
{
    struct jpeg_decompress_struct cinfo;
    struct error_manager err;
    quiet(&cinfo, &err);
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return 0;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    *height = (int)cinfo.image_height;
    *width = (int)cinfo.image_width;
    if (!supported(&cinfo) || out == NULL || y < 0 || x < 0 || h < 1 || w < 1 || y + h > *height || x + w > *width) {
        jpeg_destroy_decompress(&cinfo);
        return supported(&cinfo) && out == NULL;
    }
    cinfo.out_color_space = JCS_EXT_BGR;
    jpeg_start_decompress(&cinfo);
    /* One column more on each side where there is one: an edge column's chroma is otherwise
     * upsampled as an image edge and differs from a full decode by up to ~15 levels. */
    JDIMENSION left = (JDIMENSION)(x - (x > 0));
    JDIMENSION cols = (JDIMENSION)w + (x > 0) + (x + w < *width);
    jpeg_crop_scanline(&cinfo, &left, &cols);
    if ((int)cols > capacity) {
        jpeg_destroy_decompress(&cinfo);
        return 0;
    }
    if (y > 0)
        jpeg_skip_scanlines(&cinfo, (JDIMENSION)y);
    while (cinfo.output_scanline < (JDIMENSION)(y + h)) {
        JSAMPROW row = out + (size_t)(cinfo.output_scanline - y) * cols * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_abort_decompress(&cinfo); /* the rows below the crop are never decoded */
    jpeg_destroy_decompress(&cinfo);
    *stride = (int)cols;
    *dx = x - (int)left;
    return 1;
}

static PyObject *size(PyObject *self, PyObject *args)
{
    Py_buffer data;
    int height = 0, width = 0, ok;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*", &data))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    ok = read_jpeg(data.buf, (size_t)data.len, &height, &width, 0, 0, 0, 0, NULL, 0, NULL, NULL);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    if (!ok)
        Py_RETURN_NONE;
    return Py_BuildValue("(ii)", height, width);
}

static PyObject *region(PyObject *self, PyObject *args)
{
    Py_buffer data;
    int y, x, h, w, height, width, stride = 0, dx = 0, ok;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*iiii", &data, &y, &x, &h, &w))
        return NULL;
    if (h < 1 || w < 1) {
        PyBuffer_Release(&data);
        Py_RETURN_NONE;
    }
    int capacity = w + 66; /* blocks are at most 32 pixels wide: at most 32 more on each side */
    PyObject *pixels = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)h * capacity * 3);
    if (pixels == NULL) {
        PyBuffer_Release(&data);
        return NULL;
    }
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(pixels);
    Py_BEGIN_ALLOW_THREADS
    ok = read_jpeg(data.buf, (size_t)data.len, &height, &width, y, x, h, w, out, capacity, &stride, &dx);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    if (!ok) {
        Py_DECREF(pixels);
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(Nii)", pixels, stride, dx);
}

static PyMethodDef methods[] = {
    {"size", size, METH_VARARGS, "(height, width) of a JPEG, or None"},
    {"region", region, METH_VARARGS, "(BGR bytes, stride, dx) of a region of a JPEG, or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_jpeg", "Decode a region of a JPEG.", -1, methods};

PyMODINIT_FUNC PyInit__jpeg(void)
{
    return PyModule_Create(&module);
}

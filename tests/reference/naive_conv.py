"""PyTorch's Conv2d / pooling written out as loops over output pixels (slow, obvious)."""
import numpy as np


def conv2d(x, w, stride=(1, 1), pad=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    c_in, h, wd = x.shape
    c_out, c_in_g, kh, kw = w.shape
    xp = np.zeros((c_in, h + pad[0][0] + pad[0][1], wd + pad[1][0] + pad[1][1]))
    xp[:, pad[0][0]:pad[0][0] + h, pad[1][0]:pad[1][0] + wd] = x
    oh = (xp.shape[1] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (xp.shape[2] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((c_out, oh, ow))
    per_group = c_out // groups
    for co in range(c_out):
        g = co // per_group
        for oy in range(oh):
            for ox in range(ow):
                acc = 0.0
                for ci_g in range(c_in_g):
                    for ky in range(kh):
                        for kx in range(kw):
                            acc += w[co, ci_g, ky, kx] * xp[g * c_in_g + ci_g, oy * stride[0] + ky * dilation[0],
                                                             ox * stride[1] + kx * dilation[1]]
                out[co, oy, ox] = acc
    return out

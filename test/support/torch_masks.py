"""Masks of a freqreg-written .pt, computed by PyTorch with the upstream UNet's modules.

    python3 torch_masks.py MODEL.pt INPUT.f32 WIDTH HEIGHT OUT.u8

The network is built module by module as the upstream run/unet (milesial Pytorch-UNet,
bilinear=False) builds it, with the upstream FR changes (no biases; BatchNorm2d without affine
parameters and without running statistics), so `load_state_dict(strict=True)` checks every key and
shape of the file. INPUT.f32 is the planar (3, H, W) float32 input; OUT.u8 gets the argmax class
per pixel and OUT.u8.margin the float32 top-two logit margin (for near ties).
"""
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.double_conv = nn.Sequential(
            nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(cout, affine=False, track_running_stats=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(cout, affine=False, track_running_stats=False),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(cin, cout))

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cin // 2, kernel_size=2, stride=2, bias=False)
        self.conv = DoubleConv(cin, cout)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        dy, dx = x2.size()[2] - x1.size()[2], x2.size()[3] - x1.size()[3]
        x1 = F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([x2, x1], dim=1))


class OutConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size=1, bias=False)

    def forward(self, x):
        return self.conv(x)


class UNet(nn.Module):
    def __init__(self, n_channels, n_classes, width=64):
        super().__init__()
        w = width
        self.inc = DoubleConv(n_channels, w)
        self.down1, self.down2, self.down3, self.down4 = Down(w, 2 * w), Down(2 * w, 4 * w), Down(4 * w, 8 * w), Down(8 * w, 16 * w)
        self.up1, self.up2, self.up3, self.up4 = Up(16 * w, 8 * w), Up(8 * w, 4 * w), Up(4 * w, 2 * w), Up(2 * w, w)
        self.outc = OutConv(w, n_classes)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return self.outc(x)


def idct_4d(c):
    """Orthonormal inverse DCT over all four axes (the upstream frereg idct_4d, norm 'ortho')."""
    out = c
    for axis in range(4):
        n = c.shape[axis]
        k = torch.arange(n, dtype=torch.float64)
        m = torch.arange(n, dtype=torch.float64)
        basis = torch.cos(torch.pi * (2 * m[:, None] + 1) * k[None, :] / (2 * n)) * torch.where(k == 0, (1.0 / n) ** 0.5, (2.0 / n) ** 0.5)
        out = torch.movedim(torch.tensordot(out, basis.T, dims=([axis], [0])), -1, axis)
    return out


def main():
    model_path, input_path, width, height, out_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    saved = torch.load(model_path)
    coeffs = {k: (v.to_dense() if v.is_sparse else v).to(torch.float64) for k, v in saved.items()}
    first, last = coeffs['inc.double_conv.0.weight'], coeffs['outc.conv.weight']
    net = UNet(first.shape[1], last.shape[0], first.shape[0])
    # The file holds frequency coefficients; the network's weights are their inverse DCT (upstream file2Model).
    net.load_state_dict({k: idct_4d(v).float() for k, v in coeffs.items()}, strict=True)
    net.eval()
    x = torch.from_numpy(np.fromfile(input_path, dtype=np.float32).reshape(1, first.shape[1], height, width))
    with torch.no_grad():
        logits = net(x)[0]
    top = torch.topk(logits, 2, dim=0).values
    np.asarray(logits.argmax(dim=0).numpy(), dtype=np.uint8).tofile(out_path)
    np.asarray((top[0] - top[1]).numpy(), dtype=np.float32).tofile(out_path + '.margin')


if __name__ == '__main__':
    main()

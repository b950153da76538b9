"""The same training step in PyTorch, for `npm run bench` (bench/train.ts runs it).

    python3 bench/torch_train_step.py --threads 2 --width 240 --height 160 --steps 3 --data DIR --sample FILE

The upstream UNet shape with only the coefficients at zig-zag ranks 0..R-1 of every layer trainable,
the dense weights rebuilt from them every step (orthonormal inverse DCT, separable, over the
corner block that holds the R positions), forward, cross-entropy + Dice loss, backward, Adam:
float32, batch 1, in0000.png and its mask as freqreg train brings them to W x H (the --sample file
bench/train.ts writes). Prints one JSON line.
"""
import argparse
import io
import json
import os
import resource
import tarfile
import time

import numpy as np
import torch
import torch.nn.functional as F

EPS_NORM = 1e-5
EPS_DICE = 1e-6


def zigzag_positions(shape, count):
    """The first `count` positions of the upstream zig-zag order: by (index sum, i0, i1, i2, i3)."""
    out = []
    for s in range(sum(d - 1 for d in shape) + 1):
        for i0 in range(min(shape[0] - 1, s) + 1):
            for i1 in range(min(shape[1] - 1, s - i0) + 1):
                for i2 in range(min(shape[2] - 1, s - i0 - i1) + 1):
                    i3 = s - i0 - i1 - i2
                    if i3 < shape[3]:
                        out.append((i0, i1, i2, i3))
                        if len(out) == count:
                            return out
    return out


def dct_basis(n, k_count):
    m = np.arange(n)[:, None]
    k = np.arange(k_count)[None, :]
    alpha = np.where(k == 0, np.sqrt(1.0 / n), np.sqrt(2.0 / n))
    return torch.from_numpy((alpha * np.cos(np.pi * (2 * m + 1) * k / (2 * n))).astype(np.float32))


class Layer:
    def __init__(self, coeffs, ranks):
        self.shape = tuple(coeffs.shape)
        self.positions = zigzag_positions(self.shape, min(ranks, int(np.prod(self.shape))))
        self.index = tuple(torch.tensor(p) for p in zip(*self.positions))
        self.block = tuple(max(p[k] for p in self.positions) + 1 for k in range(4))
        self.bases = [dct_basis(self.shape[k], self.block[k]) for k in range(4)]
        self.theta = coeffs[self.index].clone().requires_grad_(True)

    def weight(self):
        c = torch.zeros(self.block).index_put(self.index, self.theta)
        b0, b1, b2, b3 = self.bases
        w = torch.einsum('abcd,xd->abcx', c, b3)
        w = torch.einsum('abcx,yc->abyx', w, b2)
        w = torch.einsum('abyx,ib->aiyx', w, b1)
        return torch.einsum('aiyx,oa->oiyx', w, b0)


def norm_relu(x):
    return F.relu(F.batch_norm(x, None, None, training=True, eps=EPS_NORM))


def double_conv(x, w, prefix):
    x = norm_relu(F.conv2d(x, w[prefix + '.0.weight'], padding=1))
    return norm_relu(F.conv2d(x, w[prefix + '.3.weight'], padding=1))


def unet(x, w):
    xs = [double_conv(x, w, 'inc.double_conv')]
    for k in range(1, 5):
        xs.append(double_conv(F.max_pool2d(xs[-1], 2), w, f'down{k}.maxpool_conv.1.double_conv'))
    x = xs[4]
    for k in range(1, 5):
        u = F.conv_transpose2d(x, w[f'up{k}.up.weight'], stride=2)
        skip = xs[4 - k]
        dy, dx = skip.shape[2] - u.shape[2], skip.shape[3] - u.shape[3]
        u = F.pad(u, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        x = double_conv(torch.cat([skip, u], dim=1), w, f'up{k}.conv.double_conv')
    return F.conv2d(x, w['outc.conv.weight'])


def loss_of(logits, target):
    ce = F.cross_entropy(logits, target)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(logits.dtype)
    prob = F.softmax(logits, dim=1)
    inter = 2 * (prob * onehot).sum()
    dice = (inter + EPS_DICE) / (prob.sum() + onehot.sum() + EPS_DICE)
    return ce + 1 - dice


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--width', type=int, default=240)
    ap.add_argument('--height', type=int, default=160)
    ap.add_argument('--steps', type=int, default=3)
    ap.add_argument('--ranks', type=int, default=33)
    ap.add_argument('--data', required=True)
    ap.add_argument('--sample', required=True, help='photo (3, H, W) uint8 then mask (H, W) classes, as freqreg train prepares them')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    raw = open(os.path.join(a.data, 'unet_fr.tar.xz'), 'rb').read()
    with tarfile.open(fileobj=io.BytesIO(raw), mode='r:xz') as t:
        member = [m for m in t.getmembers() if m.isfile()][0]
        state = torch.load(io.BytesIO(t.extractfile(member).read()))
    layers = {k: Layer((v.to_dense() if v.is_sparse else v).float(), a.ranks) for k, v in state.items()}
    sample = np.fromfile(a.sample, dtype=np.uint8)
    pixels = a.width * a.height
    x = torch.from_numpy(sample[:3 * pixels].astype(np.float32) / 255).reshape(1, 3, a.height, a.width)
    target = torch.from_numpy(sample[3 * pixels:].astype(np.int64)).reshape(1, a.height, a.width)
    opt = torch.optim.Adam([l.theta for l in layers.values()], lr=1e-3)
    times, cpu, losses = [], [], []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        c0 = time.process_time()
        opt.zero_grad()
        w = {k: l.weight() for k, l in layers.items()}
        loss = loss_of(unet(x, w), target)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        losses.append(loss.item())
    warm = sorted(times[1:]) if len(times) > 1 else times
    warm_cpu = sorted(cpu[1:]) if len(cpu) > 1 else cpu
    print(json.dumps({
        'peer': 'pytorch', 'torch': torch.__version__, 'threads': a.threads, 'width': a.width, 'height': a.height, 'ranks': a.ranks,
        'coldSeconds': times[0], 'medianSeconds': warm[len(warm) // 2], 'warmSeconds': times[1:], 'medianCpuSeconds': warm_cpu[len(warm_cpu) // 2], 'losses': losses,
        'peakRssMiB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == '__main__':
    main()

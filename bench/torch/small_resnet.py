"""small_resnet.py — the image tower shared by retrieval_train.py and caption_train.py.

DESIGN §7's ResNet-18 layout for small images, as mmc's mmc_nn_resnet builds it
(src/nn/resnet.c, MMC_STEM_SMALL): a 3x3 stride-1 stem conv (no bias, no max pool) + BN +
ReLU, four stages of two basic blocks (3x3 conv, BN, ReLU, 3x3 conv, BN, + shortcut, ReLU)
with widths 32-64-128-256, stride 2 on the first block of stages 2-4, a 1x1 strided conv +
BN shortcut where the shape changes (torchvision's BasicBlock), then global average
pooling. Convs are bias-free, kaiming-normal (fan_out), BN weight 1, bias 0, as
torchvision initialises them. x (B, 3, S, S) -> (B, 256)."""
import torch
import torch.nn as nn


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = self.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return self.relu(h + (self.downsample(x) if self.downsample is not None else x))


class SmallResNet(nn.Module):
    def __init__(self, layers=(2, 2, 2, 2), widths=(32, 64, 128, 256)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        blocks, cin = [], widths[0]
        for s, (n, w) in enumerate(zip(layers, widths)):
            for i in range(n):
                blocks.append(BasicBlock(cin, w, 2 if s > 0 and i == 0 else 1))
                cin = w
        self.blocks = nn.Sequential(*blocks)
        self.out_dim = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        h = self.blocks(self.relu(self.bn1(self.conv1(x))))
        return h.mean(dim=(2, 3))


def count_params(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def resnet_train_flops(B, S, widths=(32, 64, 128, 256)):
    """FLOPs of one training step of SmallResNet, counted as src/cli/bench.c counts them:
    matrix products only, 2 per multiply-add; each conv's forward and its two backward
    products (dL/dW, dL/dX), but no dL/dX for the stem (the images need no gradient)."""
    f = 2.0 * 2.0 * B * widths[0] * S * S * 3 * 9
    cin, side = widths[0], S
    for s in range(4):
        for b in range(2):
            stride, w = (2 if s > 0 and b == 0 else 1), widths[s]
            side = (side + stride - 1) // stride
            hw = side * side
            f += 3.0 * 2.0 * B * hw * w * (cin * 9.0 + w * 9.0)
            if stride != 1 or cin != w:
                f += 3.0 * 2.0 * B * hw * w * cin
            cin = w
    return f


def linear_train_flops(rows, fin, fout):
    """A linear layer's forward and its two backward products."""
    return 3.0 * 2.0 * rows * fin * fout

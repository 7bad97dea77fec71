"""Worked example 2 (config/audit_resnet.yaml): a model as a user would write it, a small
ResNet-like CNN with batch norm for 28 x 28 grey images, and the function that trained it.

The network takes raw pixel values (0..255, as Fashion-MNIST's files store them) and scales them
itself, so the audit's data can be the records as stored."""
import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    """Two 3 x 3 conv + batch-norm layers with a skip connection (He et al. 2016)."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.skip = (nn.Sequential() if stride == 1 and c_in == c_out else
                     nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                   nn.BatchNorm2d(c_out)))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.skip(x))


class SmallResNet(nn.Module):
    def __init__(self, width=8, n_classes=10, in_channels=1):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.stage1 = Block(width, width, 1)
        self.stage2 = Block(width, 2 * width, 2)
        self.head = nn.Linear(2 * width, n_classes)

    def forward(self, x):
        h = F.relu(self.bn(self.stem(x / 255.0)))
        h = self.stage2(self.stage1(h))
        return self.head(h.mean((2, 3)))


def build(width=8, n_classes=10):
    return SmallResNet(width, n_classes)


def train(model, X, y, *, seed, epochs=15, lr=0.003, batch_size=32):
    """Adam on (X, y) for ``epochs``; long enough on a few hundred images to over-fit them."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    X = torch.as_tensor(X, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.long)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            opt.zero_grad()
            F.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
    model.eval()
    return model

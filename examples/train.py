#!/usr/bin/python3
"""A small, real training run for aicert's demo and tests.

Trains a two-layer PyTorch classifier on the Wisconsin breast-cancer data set that Debian's
python3-sklearn ships (a CSV file read straight from disk, so the trace sees the data file),
then writes the weights the way careful training code does: to a temporary file, then renamed
over the final name. aicert must measure the weights under their final name.

Usage: train.py [--out DIR] [--epochs N] [--data CSV]
"""
import argparse
import csv
import json
import os
import sys

import torch

DEFAULT_DATA = "/usr/lib/python3/dist-packages/sklearn/datasets/data/breast_cancer.csv"


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    # sklearn's layout: first line "n_samples,n_features,class names...", then rows
    data = [[float(v) for v in r] for r in rows[1:] if r]
    x = torch.tensor([r[:-1] for r in data], dtype=torch.float32)
    y = torch.tensor([int(r[-1]) for r in data], dtype=torch.long)
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    return x, y


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=".", help="directory for model.pt and metrics.json")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--data", default=DEFAULT_DATA)
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)
    x, y = load(args.data)
    model = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    acc = (model(x).argmax(1) == y).float().mean().item()
    print(f"trained {args.epochs} epochs on {len(y)} samples: loss {loss.item():.4f}, "
          f"accuracy {acc:.3f}")

    os.makedirs(args.out, exist_ok=True)
    final = os.path.join(args.out, "model.pt")
    tmp = final + ".tmp"
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, final)
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump({"loss": loss.item(), "accuracy": acc, "epochs": args.epochs}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())

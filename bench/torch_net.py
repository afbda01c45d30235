#!/usr/bin/python3
# The PyTorch twin of any netspace model config: for side-by-side benchmarks (issue #12) and
# for moving a trained model to PyTorch (issue #15).
#
# It does not re-implement the block families: it asks netspace for the config's layer graph
# (`netspace model --config CONFIG --layers --json`, src/model/graph.h) and makes one torch
# module per graph layer, in NCHW, so the twin is the same network as netspace's by
# construction for every block family and stem. Token tensors, (T, 1, C) per image in
# netspace, are (N, C, T, 1) here; a transformer's linear layers are then 1x1 convs, as in
# netspace's graph.
#
# Usage: /usr/bin/python3 bench/torch_net.py [CONFIG.json] [options]
#        /usr/bin/python3 bench/torch_net.py --check CONFIG.json... (several: one process)
#   --netspace PATH     the netspace binary (default $NETSPACE, else build/release/netspace)
#   --check             build, print a summary, compare the parameter count (and every
#                       parameter tensor's kind and shape) with netspace's; exit 1 if they differ
#   --weights CKPT      load a netspace checkpoint (doc: README, "Checkpoints"); CONFIG may
#                       then be left out: the checkpoint's own config is used
#   --eval              test error on the Fashion-MNIST test set (eval mode, batch 128),
#                       printed as test_error=...; --test-limit N: the first N images;
#                       --normalize: per-channel train mean/std as `netspace train --normalize`
#                       (--train-limit N: of the first N training images, as netspace's)
#   --logits FILE       with --eval: also write the logits (float32, n x classes) to FILE
#   --bench T STEPS     on T threads, STEPS timed SGD steps (momentum 0.9, weight decay 5e-4,
#                       lr 0.1, no Nesterov, as `netspace bench`) at batch 128 after 5
#                       warm-up steps, then eval-mode inference over 10,000 images at batch
#                       128; Fashion-MNIST, or synthetic images when the net takes another
#                       shape (as netspace bench); prints train_img_per_s=... infer_img_per_s=...
#   --data-dir DIR      the Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)
#   --seed N            torch seed of the initialization (default 0)
import argparse
import gzip
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

NS_BN_EPS, NS_LN_EPS, NS_WS_EPS = 1e-5, 1e-6, 1e-6
DATA_DIR = "/usr/share/datasets/fashion-mnist"

ACTS = {
    "relu": F.relu,
    "silu": F.silu,
    "relu6": F.relu6,
    "sigmoid": torch.sigmoid,
    "gelu": F.gelu,  # exact (erf), as netspace's
}


def die(msg):
    print(f"torch_net: {msg}", file=sys.stderr)
    sys.exit(2)


def netspace_binary(arg):
    here = os.path.dirname(os.path.abspath(__file__))
    ns = arg or os.environ.get("NETSPACE") or os.path.join(here, "..", "build", "release", "netspace")
    if not os.access(ns, os.X_OK):
        die(f"no netspace binary at {ns} (give --netspace or set NETSPACE)")
    return ns


def layer_graph(ns, config_path):
    """netspace's layer graph of the config, with the parameter tensors in the net's order."""
    r = subprocess.run([ns, "model", "--config", config_path, "--layers", "--json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        die(f"{ns} model --config {config_path}: {r.stderr.strip()}")
    return json.loads(r.stdout)


# ---- initialization (netspace's rules, src/nn/net.c ns_net_init; torch's RNG, not its bits) --

def init_conv_weight(w, layer, kind):
    """w: torch layout (cout, cin/groups, kh, kw) or (cout, cin) for linear layers."""
    cout = w.shape[0]
    fan_in = w[0].numel()
    ksz = w.shape[2] * w.shape[3] if w.dim() == 4 else 1
    fan_out = ksz * cout
    init = layer["init"]
    with torch.no_grad():
        if kind == "ws_w":
            w.normal_(0, math.sqrt(1.0 / fan_in))
        elif init == "xavier":
            a = math.sqrt(6.0 / (fan_in + fan_out))
            w.uniform_(-a, a)
        elif init == "torch":
            a = 1.0 / math.sqrt(fan_in)
            w.uniform_(-a, a)
        elif init == "lecun":
            nn.init.trunc_normal_(w, 0, math.sqrt(1.0 / fan_in), -2, 2)
        elif init == "zero":
            w.zero_()
        elif kind == "fc_w":
            w.normal_(0, 0.01)
        else:
            w.normal_(0, math.sqrt(2.0 / fan_out))


# ---- one module per graph layer -----------------------------------------------------------
# Each module's ns_params() lists (netspace kind, torch tensor, to_torch) in the order of the
# net's parameter table; to_torch turns netspace's channels-last layout into the tensor's.

def conv_to_torch(a):  # (kh, kw, cin/groups, cout) -> (cout, cin/groups, kh, kw)
    return a.permute(3, 2, 0, 1)


def linear_to_torch(a):  # (cin, cout) -> (cout, cin)
    return a.t()


def same(a):
    return a


class Conv(nn.Module):
    def __init__(self, layer, cin):
        super().__init__()
        k, kw = layer["k"], layer["kw"]
        self.conv = nn.Conv2d(cin, layer["shape"][2], (k, kw), layer["stride"], (k // 2, kw // 2),
                              groups=layer["groups"], bias=bool(layer["bias"]))
        init_conv_weight(self.conv.weight, layer, "conv_w")
        if self.conv.bias is not None:
            with torch.no_grad():
                if layer["small_bias"]:
                    self.conv.bias.normal_(0, 1e-6)
                else:
                    self.conv.bias.zero_()

    def forward(self, x):
        return self.conv(x)

    def ns_params(self):
        p = [("conv_w", self.conv.weight, conv_to_torch)]
        if self.conv.bias is not None:
            p.append(("bias", self.conv.bias, same))
        return p


class WSConv(nn.Module):
    """Scaled weight standardization (timm's ScaledStdConv2d, src/nn/ops.h ns_ws_forward)."""

    def __init__(self, layer, cin):
        super().__init__()
        k, cout, g = layer["k"], layer["shape"][2], layer["groups"]
        self.stride, self.pad, self.groups = layer["stride"], k // 2, g
        self.weight = nn.Parameter(torch.empty(cout, cin // g, k, k))
        self.gain = nn.Parameter(torch.ones(cout))
        self.bias = nn.Parameter(torch.zeros(cout)) if layer["bias"] else None
        init_conv_weight(self.weight, layer, "ws_w")

    def forward(self, x):
        w = self.weight
        fan_in = w[0].numel()
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        var = w.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
        w = (w - mean) * torch.rsqrt(var + NS_WS_EPS) * (self.gain.view(-1, 1, 1, 1) / math.sqrt(fan_in))
        return F.conv2d(x, w, self.bias, self.stride, self.pad, 1, self.groups)

    def ns_params(self):
        p = [("ws_w", self.weight, conv_to_torch), ("ws_gain", self.gain, same)]
        if self.bias is not None:
            p.append(("bias", self.bias, same))
        return p


class BN(nn.Module):
    def __init__(self, layer, cin):
        super().__init__()
        self.bn = nn.BatchNorm2d(cin, eps=NS_BN_EPS, momentum=0.1)
        self.relu = bool(layer["relu"])

    def forward(self, x):
        y = self.bn(x)
        return F.relu(y) if self.relu else y

    def ns_params(self):
        return [("bn_gamma", self.bn.weight, same), ("bn_beta", self.bn.bias, same)]


class Act(nn.Module):
    def __init__(self, layer, cin):
        super().__init__()
        self.f = ACTS[layer["act"]]

    def forward(self, x):
        return self.f(x)


class Add(nn.Module):
    def __init__(self, layer, cin):
        super().__init__()
        self.relu = bool(layer["relu"])

    def forward(self, a, b):
        y = a + b
        return F.relu(y) if self.relu else y


class Pool(nn.Module):
    def __init__(self, layer, cin):
        super().__init__()
        k, s, p = layer["k"], layer["stride"], layer["pad"]
        if layer["kind"] == "maxpool":
            self.pool = nn.MaxPool2d(k, s, p)
        else:  # padded cells not counted, as netspace's
            self.pool = nn.AvgPool2d(k, s, p, count_include_pad=False)

    def forward(self, x):
        return self.pool(x)


class GAP(nn.Module):
    def __init__(self, layer, cin):
        super().__init__()

    def forward(self, x):
        return x.mean(dim=(2, 3), keepdim=True)


class Linear(nn.Module):
    """On a 1x1 input: the classifier, or one of SE's two layers (conv-initialized)."""

    def __init__(self, layer, cin):
        super().__init__()
        self.fc = nn.Linear(cin, layer["shape"][2])
        self.kind = "fc_w" if layer["classifier"] else "conv_w"
        init_conv_weight(self.fc.weight, layer, self.kind)
        with torch.no_grad():
            self.fc.bias.zero_()

    def forward(self, x):
        return self.fc(x.flatten(1))[:, :, None, None]

    def ns_params(self):
        return [(self.kind, self.fc.weight, linear_to_torch), ("bias", self.fc.bias, same)]


class Scale(nn.Module):
    def __init__(self, layer, cin):
        super().__init__()

    def forward(self, x, s):
        return x * s


class Dropout(nn.Module):
    def __init__(self, layer, cin):
        super().__init__()
        self.drop = nn.Dropout(layer["rate"])

    def forward(self, x):
        return self.drop(x)


class DropPath(nn.Module):
    """Stochastic depth: each image's branch dropped with probability rate (training only)."""

    def __init__(self, layer, cin):
        super().__init__()
        self.rate = layer["rate"]

    def forward(self, x):
        if not self.training or self.rate <= 0:
            return x
        keep = (torch.rand(x.shape[0], 1, 1, 1) >= self.rate).to(x.dtype)
        return x * keep / (1 - self.rate)


class Shuffle(nn.Module):
    def __init__(self, layer, cin):
        super().__init__()
        self.g = layer["groups"]

    def forward(self, x):
        n, c, h, w = x.shape
        return x.view(n, self.g, c // self.g, h, w).transpose(1, 2).reshape(n, c, h, w)


class Slice(nn.Module):
    def __init__(self, layer, cin):
        super().__init__()
        self.lo, self.hi = layer["lo"], layer["lo"] + layer["shape"][2]

    def forward(self, x):
        return x[:, self.lo:self.hi]


class Concat(nn.Module):
    def __init__(self, layer, cin):
        super().__init__()

    def forward(self, a, b):
        return torch.cat((a, b), 1)


class Patchify(nn.Module):
    """p x p patches to channels in (py, px, c) order, as netspace's ns_patchify_forward."""

    def __init__(self, layer, cin):
        super().__init__()
        self.p = layer["k"]

    def forward(self, x):
        n, c, h, w = x.shape
        p = self.p
        x = x.view(n, c, h // p, p, w // p, p).permute(0, 3, 5, 1, 2, 4)
        return x.reshape(n, p * p * c, h // p, w // p)


class Tokens(nn.Module):
    """(N, C, h, w) -> (N, C, h*w + 1, 1): the class token first, plus the position embedding."""

    def __init__(self, layer, cin):
        super().__init__()
        T, C = layer["shape"][0], layer["shape"][2]
        self.cls = nn.Parameter(torch.zeros(C))
        self.pos = nn.Parameter(torch.empty(T, C).normal_(0, 0.02))

    def forward(self, x):
        n, c = x.shape[0], x.shape[1]
        t = torch.cat((self.cls.view(1, c, 1).expand(n, c, 1), x.flatten(2)), 2)
        return (t + self.pos.t()).unsqueeze(-1)

    def ns_params(self):
        return [("cls", self.cls, same), ("pos", self.pos, same)]


class LN(nn.Module):
    def __init__(self, layer, cin):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(cin))
        self.bias = nn.Parameter(torch.zeros(cin))

    def forward(self, x):
        y = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), self.weight, self.bias, NS_LN_EPS)
        return y.permute(0, 3, 1, 2)

    def ns_params(self):
        return [("ln_gamma", self.weight, same), ("ln_beta", self.bias, same)]


class Attn(nn.Module):
    """(N, 3C, T, 1) q|k|v, heads contiguous in each -> (N, C, T, 1)."""

    def __init__(self, layer, cin):
        super().__init__()
        self.heads = layer["groups"]

    def forward(self, x):
        n, c3, T = x.shape[0], x.shape[1], x.shape[2]
        c, h = c3 // 3, self.heads
        q, k, v = x.view(n, 3, h, c // h, T).transpose(-1, -2).unbind(1)  # (n, h, T, dh)
        p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(c // h), dim=-1)
        return (p @ v).transpose(-1, -2).reshape(n, c, T, 1)


class Token0(nn.Module):
    def __init__(self, layer, cin):
        super().__init__()

    def forward(self, x):
        return x[:, :, :1, :]


class NFAct(nn.Module):
    def __init__(self, layer, cin):
        super().__init__()
        self.f, self.mul_in, self.mul_out = ACTS[layer["act"]], layer["mul_in"], layer["mul_out"]

    def forward(self, x):
        return self.mul_out * self.f(x * self.mul_in)


class NFAdd(nn.Module):
    def __init__(self, layer, cin):
        super().__init__()
        self.alpha = layer["alpha"]

    def forward(self, a, b):
        return a + self.alpha * b


MODULES = {
    "conv": Conv, "wsconv": WSConv, "bn": BN, "act": Act, "add": Add, "maxpool": Pool,
    "avgpool": Pool, "gap": GAP, "linear": Linear, "scale": Scale, "dropout": Dropout,
    "droppath": DropPath, "shuffle": Shuffle, "slice": Slice, "concat": Concat,
    "patchify": Patchify, "tokens": Tokens, "ln": LN, "attn": Attn, "token0": Token0,
    "nf_act": NFAct, "nf_add": NFAdd,
}


class Net(nn.Module):
    """netspace's layer graph as a torch module: layer i reads the outputs of layers in[...]."""

    def __init__(self, graph):
        super().__init__()
        layers = graph["layers"]
        if layers[0]["kind"] != "input":
            die("layer 0 of the graph is not the input")
        self.inputs = [l["in"] for l in layers]
        self.shapes = [l["shape"] for l in layers]
        # free each output after its last reader (memory like a hand-written net)
        last = list(range(len(layers)))
        for i, l in enumerate(layers):
            for j in l["in"]:
                last[j] = i
        self.free_after = [[j for j in range(len(layers)) if last[j] == i and j != i]
                           for i in range(len(layers))]
        mods = [nn.Identity()]
        for l in layers[1:]:
            if l["kind"] not in MODULES:
                die(f"layer {l['id']}: unknown kind '{l['kind']}' (a newer netspace?)")
            mods.append(MODULES[l["kind"]](l, layers[l["in"][0]]["shape"][2]))
        self.layers = nn.ModuleList(mods)

    def forward(self, x):
        out = [None] * len(self.layers)
        out[0] = x
        for i in range(1, len(self.layers)):
            out[i] = self.layers[i](*[out[j] for j in self.inputs[i]])
            for j in self.free_after[i]:
                out[j] = None
        return out[-1].flatten(1)

    def ns_params(self):
        """(layer id, netspace kind, torch tensor, to_torch) in the net's parameter order."""
        ps = []
        for i, m in enumerate(self.layers):
            if hasattr(m, "ns_params"):
                ps += [(i, k, t, f) for k, t, f in m.ns_params()]
        return ps

    def bns(self):
        return [m.bn for m in self.layers if isinstance(m, BN)]


def check_params(net, graph):
    """The twin's parameter tensors against netspace's table: kind, layer, element count."""
    mine, theirs = net.ns_params(), graph["param_tensors"]
    if len(mine) != len(theirs):
        return f"{len(mine)} parameter tensors, netspace has {len(theirs)}"
    for (layer, kind, t, _), p in zip(mine, theirs):
        if (layer, kind, t.numel()) != (p["layer"], p["kind"], p["len"]):
            return (f"parameter {p['index']}: twin has {kind} of layer {layer} ({t.numel()}),"
                    f" netspace {p['kind']} of layer {p['layer']} ({p['len']})")
    return None


# ---- checkpoints (format version 1: the contract in doc, written by `netspace train --save`) --

PARAM_KINDS = ["conv_w", "bias", "fc_w", "bn_gamma", "bn_beta", "ln_gamma", "ln_beta", "cls",
               "pos", "ws_w", "ws_gain"]


def read_checkpoint(path):
    """{tag: payload bytes} of a netspace checkpoint, checked (magic, version, length, CRC)."""
    with open(path, "rb") as f:
        b = f.read()
    if len(b) < 36 or b[:8] != b"NSCKPT\r\n":
        die(f"{path}: not a netspace checkpoint")
    version, flags, P, nsec, _ = struct.unpack_from("<IIQII", b, 8)
    if version > 1:
        die(f"{path}: checkpoint version {version} is newer than this script's (1)")
    if flags & ~1:
        die(f"{path}: unknown flag bits {flags:#x}")
    if len(b) != 36 + P:
        die(f"{path}: truncated ({len(b)} bytes, the header says {36 + P})")
    if zlib.crc32(b[:32 + P]) != struct.unpack_from("<I", b, 32 + P)[0]:
        die(f"{path}: corrupt (CRC mismatch)")
    secs, off = {}, 32
    for _ in range(nsec):
        if off + 16 > 32 + P:
            die(f"{path}: a section overruns the file")
        tag = b[off:off + 4].decode("ascii", "replace")
        (L,) = struct.unpack_from("<Q", b, off + 8)
        if off + 16 + L > 32 + P:
            die(f"{path}: section {tag} overruns the file")
        secs.setdefault(tag, b[off + 16:off + 16 + L])
        off += 16 + (L + 7) // 8 * 8
    for tag in ("CONF", "PTAB", "WGHT", "BNST"):
        if tag not in secs:
            die(f"{path}: no {tag} section")
    return secs


def floats(payload, what, path):
    (n,) = struct.unpack_from("<Q", payload, 0)
    if 8 + 4 * n != len(payload):
        die(f"{path}: {what}: {n} floats announced, {(len(payload) - 8) // 4} present")
    if n == 0:
        return torch.zeros(0)
    return torch.frombuffer(bytearray(payload[8:]), dtype=torch.float32)  # little-endian host


def load_checkpoint(net, secs, path):
    ptab = secs["PTAB"]
    (count,) = struct.unpack_from("<I", ptab, 0)
    mine = net.ns_params()
    if count != len(mine):
        die(f"{path}: {count} parameter tensors, the config's net has {len(mine)}")
    w = floats(secs["WGHT"], "WGHT", path)
    off = 0
    with torch.no_grad():
        for i, (layer, kind, t, to_torch) in enumerate(mine):
            k, lid, n = struct.unpack_from("<IIQ", ptab, 8 + 16 * i)
            if (PARAM_KINDS[k] if k < len(PARAM_KINDS) else k, lid, n) != (kind, layer, t.numel()):
                die(f"{path}: parameter {i} is kind {k} of layer {lid} ({n} floats), the net's"
                    f" is {kind} of layer {layer} ({t.numel()})")
            shape = [s for s in t.shape]
            a = w[off:off + n]
            if kind in ("conv_w", "ws_w") and t.dim() == 4:  # channels last (kh, kw, cin/g, cout)
                a = a.view(shape[2], shape[3], shape[1], shape[0])
            elif kind in ("fc_w", "conv_w"):  # linear (cin, cout)
                a = a.view(shape[1], shape[0])
            elif kind == "pos":
                a = a.view(shape)
            t.copy_(to_torch(a))
            off += n
        if off != w.numel():
            die(f"{path}: WGHT has {w.numel()} floats, the table {off}")
        st = floats(secs["BNST"], "BNST", path)
        off = 0
        for bn in net.bns():
            c = bn.num_features
            bn.running_mean.copy_(st[off:off + c])
            bn.running_var.copy_(st[off + c:off + 2 * c])
            off += 2 * c
        if off != st.numel():
            die(f"{path}: BNST has {st.numel()} floats, the net's BNs {off}")


# ---- data ---------------------------------------------------------------------------------

def idx(path):
    with gzip.open(path) as f:
        magic = struct.unpack(">I", f.read(4))[0]
        nd = magic & 0xFF
        dims = struct.unpack(">" + "I" * nd, f.read(4 * nd))
        return torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).reshape(dims)


def fashion(data_dir, split):
    pre = "train" if split == "train" else "t10k"
    x = idx(os.path.join(data_dir, f"{pre}-images-idx3-ubyte.gz"))
    y = idx(os.path.join(data_dir, f"{pre}-labels-idx1-ubyte.gz")).long()
    return x.unsqueeze(1), y  # (n, 1, 28, 28) bytes


def to_float(xb, scale, bias):
    """Bytes to netspace's inputs: v * (1/(255 std)) + (-mean/std) in float32."""
    return xb.float() * scale + bias


def norm_stats(x_train, normalize):
    if not normalize:
        return torch.tensor(1.0 / 255.0, dtype=torch.float32), torch.tensor(0.0)
    v = x_train.double() / 255.0  # population std over all pixels, as ns_data_normalize
    mean, sd = v.mean().item(), v.std(unbiased=False).item()
    if sd == 0:
        sd = 1.0
    return (torch.tensor(1.0 / (255.0 * sd), dtype=torch.float32),
            torch.tensor(-mean / sd, dtype=torch.float32))


# ---- commands -----------------------------------------------------------------------------

def need_fashion(graph, what):
    h, w, c = graph["layers"][0]["shape"]
    if (h, w, c, graph["classes"]) != (28, 28, 1, 10):
        die(f"{what} runs on Fashion-MNIST (1x28x28, 10 classes); this net takes {c}x{h}x{w} "
            f"with {graph['classes']} classes")


def cmd_eval(net, args):
    xtr, _ = fashion(args.data_dir, "train")
    if args.train_limit:
        xtr = xtr[:args.train_limit]
    xte, yte = fashion(args.data_dir, "test")
    if args.test_limit:
        xte, yte = xte[:args.test_limit], yte[:args.test_limit]
    scale, bias = norm_stats(xtr, args.normalize)
    net.eval()
    wrong, logits = 0, []
    with torch.no_grad():
        for j in range(0, len(xte), 128):
            out = net(to_float(xte[j:j + 128], scale, bias))
            wrong += int((out.argmax(1) != yte[j:j + 128]).sum())
            logits.append(out)
    if args.logits:
        torch.cat(logits).numpy().astype("<f4").tofile(args.logits)
    print(f"test_error={wrong / len(xte):.6f} wrong={wrong} n={len(xte)}")


def cmd_bench(net, graph, threads, steps, args):
    torch.set_num_threads(threads)
    h, w, c = graph["layers"][0]["shape"]
    if (h, w, c, graph["classes"]) == (28, 28, 1, 10):
        x, y = fashion(args.data_dir, "train")
    else:  # as netspace bench: synthetic images of the net's shape (speed ignores pixels)
        g = torch.Generator().manual_seed(1)
        x = torch.randint(0, 256, (10000, c, h, w), generator=g, dtype=torch.uint8)
        y = torch.randint(0, graph["classes"], (10000,), generator=g)
    x = x.float().div(255)
    B = 128
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    net.train()

    def step(i):
        j = (i * B) % (len(x) - B)
        opt.zero_grad()
        loss = F.cross_entropy(net(x[j:j + B]), y[j:j + B])
        loss.backward()
        opt.step()
        return loss.item()

    for i in range(5):
        step(i)
    t = time.perf_counter()
    for i in range(steps):
        loss = step(i)
    dt = time.perf_counter() - t
    params = sum(p.numel() for p in net.parameters())
    print(f"torch {torch.__version__} threads={threads} params={params} batch={B} steps={steps} "
          f"train_img_per_s={steps * B / dt:.0f} loss={loss:.3f}")
    net.eval()
    n = min(10000, len(x))
    t = time.perf_counter()
    with torch.no_grad():
        for j in range(0, n, B):
            net(x[j:j + B])
    print(f"infer_img_per_s={n / (time.perf_counter() - t):.0f}")


def cmd_check(net, graph):
    params = sum(p.numel() for p in net.parameters())
    layers = graph["layers"]
    kinds = {}
    for l in layers[1:]:
        kinds[l["kind"]] = kinds.get(l["kind"], 0) + 1
    print(f"config {graph['hash']}: block {graph['block']}, stem {graph['stem']['type']}, "
          f"{len(layers) - 1} layers ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})")
    print(f"params: torch {params}, netspace {graph['params']}")
    bad = check_params(net, graph)
    if params != graph["params"]:
        bad = bad or f"parameter count {params} differs from netspace's {graph['params']}"
    # every layer's output shape against the graph's (h, w, c)
    net.eval()
    h, w, c = layers[0]["shape"]
    outs = {}
    hooks = [m.register_forward_hook(lambda m, i, o, k=k: outs.__setitem__(k, tuple(o.shape[1:])))
             for k, m in enumerate(net.layers) if k > 0]
    with torch.no_grad():
        net(torch.randn(2, c, h, w))
    for hk in hooks:
        hk.remove()
    for k in range(1, len(layers)):
        lh, lw, lc = layers[k]["shape"]
        if outs.get(k) != (lc, lh, lw):
            bad = bad or f"layer {k} ({layers[k]['kind']}): output {outs.get(k)}, netspace (c, h, w) = {(lc, lh, lw)}"
    if bad:
        print(f"MISMATCH: {bad}")
        return 1
    print("ok: parameter tensors and layer shapes match netspace's")
    return 0


def main():
    ap = argparse.ArgumentParser(description="The PyTorch twin of a netspace model config.")
    ap.add_argument("config", nargs="*", help="a canonical config JSON file (several with --check)")
    ap.add_argument("--netspace")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--weights")
    ap.add_argument("--eval", action="store_true")
    ap.add_argument("--logits")
    ap.add_argument("--test-limit", type=int, default=0)
    ap.add_argument("--normalize", action="store_true")
    ap.add_argument("--train-limit", type=int, default=0)
    ap.add_argument("--bench", nargs=2, type=int, metavar=("THREADS", "STEPS"))
    ap.add_argument("--data-dir", default=DATA_DIR)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not (args.check or args.eval or args.bench):
        die("nothing to do: give --check, --eval or --bench T STEPS")
    ns = netspace_binary(args.netspace)
    torch.manual_seed(args.seed)
    if len(args.config) > 1:
        if args.weights or args.eval or args.bench:
            die("several configs go with --check only")
        rc = 0
        for c in args.config:
            print(f"== {c}")
            g = layer_graph(ns, c)
            rc |= cmd_check(Net(g), g)
        sys.exit(rc)
    args.config = args.config[0] if args.config else None
    secs = read_checkpoint(args.weights) if args.weights else None
    config = args.config
    tmp = None
    if config is None:
        if not secs:
            die("give a CONFIG.json or --weights CKPT")
        tmp = tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False)
        tmp.write(secs["CONF"])
        tmp.close()
        config = tmp.name
    try:
        graph = layer_graph(ns, config)
    finally:
        if tmp:
            os.unlink(tmp.name)
    if secs and args.config:  # the --json object is the canonical config plus these
        extra = ("widths", "depths", "group_widths", "flops", "params", "acts", "hash",
                 "train_memory", "form", "layers", "param_tensors")
        mine = {k: v for k, v in graph.items() if k not in extra}
        if mine != json.loads(secs["CONF"]):
            die(f"{args.weights}: its config is not {args.config}'s")
    net = Net(graph)
    bad = check_params(net, graph)
    if bad:
        die(f"the twin does not match netspace's net: {bad}")
    if secs:
        load_checkpoint(net, secs, args.weights)
    rc = 0
    if args.check:
        rc = cmd_check(net, graph)
    if args.eval:
        need_fashion(graph, "--eval")
        cmd_eval(net, args)
    if args.bench:
        cmd_bench(net, graph, args.bench[0], args.bench[1], args)
    sys.exit(rc)


if __name__ == "__main__":
    main()

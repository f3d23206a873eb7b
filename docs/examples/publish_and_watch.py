#!/usr/bin/env python3
"""publish_and_watch.py - send simulated records to cryocleand and print its decisions.

A minimal DAQ stand-in for wire protocol v1 (docs/PROTOCOL.md). It publishes
N records (a phonon-like pulse plus Gaussian noise, as int16 ADC codes) and
prints every decision as it arrives, then a summary line:

    summary: 200 records sent, 200 decisions (accept 134, reject 66, invalid 0), 0 missing

Usage (daemon with a PULL input bound on 5555 and decisions published on 5556):

    python3 publish_and_watch.py --records tcp://127.0.0.1:5555 \\
                                 --decisions tcp://127.0.0.1:5556 -n 200

With the shipped conf/cryoclean.yaml the daemon's input is a SUB socket that
connects, so publish with `--socket pub` (which binds).

Exit status: 0 when every record got exactly one decision, 1 otherwise
(or when the daemon never answered), 2 on a usage error or without pyzmq.
Needs pyzmq (Debian: python3-zmq); numpy is optional and only makes
the noise faster.
"""
import argparse
import math
import random
import struct
import sys
import time

try:
    import zmq
except ImportError:
    print("publish_and_watch.py needs pyzmq: apt install python3-zmq (or pip install pyzmq)",
          file=sys.stderr)
    sys.exit(2)

try:
    import numpy as np
except ImportError:  # optional
    np = None

# Record header, 72 bytes, little-endian (docs/PROTOCOL.md, "Header"):
# magic, version, header_len, flags, channel, instance_id, seq, timestamp_ns,
# run, module, sample_type, reserved, adc_scale, sample_rate, trigger_index,
# n_samples, reserved.
HEADER = struct.Struct("<IHHIIQQQIHBBdfIII")
# Decision, 96 bytes (docs/PROTOCOL.md, "Decision message"):
# magic, version, length, instance_id, seq, timestamp_ns, channel, module,
# verdict, reason, score, cutoff, latency_us, run, classifier, model.
DECISION = struct.Struct("<IHHQQQIHBBffII16s24s")
assert HEADER.size == 72 and DECISION.size == 96

REC_MAGIC = 0x4F595243  # the bytes "CRYO"
DEC_MAGIC = 0x44595243  # the bytes "CRYD"
INT16 = 1
VERDICTS = {0: "reject", 1: "accept", 2: "invalid"}
REASONS = ["accepted", "rejected", "nan", "zero_length", "sample_type", "length_mismatch",
           "too_long", "too_short", "no_samples", "bad_field", "classifier_error",
           "frame_count", "truncated", "bad_magic", "bad_version", "oversized"]

N_SAMPLES = 8192       # CRESST-II record window
RATE = 25000.0         # Hz
ADC_SCALE = 20 / 65536  # volts per code: 16-bit ADC over +-10 V


def samples(kind, rnd):
    """int16 little-endian codes of one record: 'pulse' or 'jump' (an artefact)."""
    t_ms = [(i - N_SAMPLES // 4) / RATE * 1000.0 for i in range(N_SAMPLES)]
    if kind == "pulse":
        height = rnd.uniform(0.1, 1.0)
        shape = [height * (math.exp(-t / 20.0) - math.exp(-t / 0.5)) if t > 0 else 0.0
                 for t in t_ms]
    else:  # a SQUID jump: the baseline steps and stays
        shape = [0.8 * (1.0 - math.exp(-t / 0.3)) if t > 0 else 0.0 for t in t_ms]
    if np is not None:
        gen = np.random.default_rng(rnd.getrandbits(32))
        volts = np.asarray(shape) + gen.normal(0.0, 0.002, N_SAMPLES)
        return np.clip(np.rint(volts / ADC_SCALE), -32768, 32767).astype("<i2").tobytes()
    codes = (max(-32768, min(32767, round((v + rnd.gauss(0.0, 0.002)) / ADC_SCALE)))
             for v in shape)
    return struct.pack("<%dh" % N_SAMPLES, *codes)


def record(instance, seq, channel, kind, rnd):
    """The three frames of one record: topic, header, samples."""
    header = HEADER.pack(REC_MAGIC, 1, HEADER.size, 0, channel, instance, seq,
                         time.time_ns(), 42, channel // 2, INT16, 0, ADC_SCALE, RATE,
                         N_SAMPLES // 4, N_SAMPLES, 0)
    return [b"rec/%03d/" % channel, header, samples(kind, rnd)]


def decode(frames):
    """A decision message as a dict (raises ValueError on a malformed one)."""
    if len(frames) != 2 or len(frames[1]) < DECISION.size:
        raise ValueError("not a decision message")
    (magic, version, _length, instance, seq, _ts, channel, _module, verdict, reason, score,
     cutoff, latency_us, _run, classifier, model) = DECISION.unpack_from(frames[1])
    if magic != DEC_MAGIC or version != 1:
        raise ValueError("bad magic or version")
    return dict(instance=instance, seq=seq, channel=channel, verdict=VERDICTS.get(verdict, "?"),
                reason=REASONS[reason] if reason < len(REASONS) else "unknown",
                score=score, cutoff=cutoff, latency_us=latency_us,
                classifier=classifier.rstrip(b"\0").decode(), model=model.rstrip(b"\0").decode())


def receive(sub, timeout_ms):
    """One decision, or None after timeout_ms without one."""
    if not sub.poll(timeout_ms):
        return None
    return decode(sub.recv_multipart())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", default="tcp://127.0.0.1:5555", help="record endpoint")
    ap.add_argument("--decisions", default="tcp://127.0.0.1:5556", help="decision endpoint")
    ap.add_argument("-n", "--count", type=int, default=100, help="records to send")
    ap.add_argument("--socket", choices=["push", "pub"], default="push",
                    help="push connects to a PULL input; pub binds for a SUB input")
    ap.add_argument("--channels", type=int, default=4, help="spread records over channels 0..N-1")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds to wait for the daemon's first answer, and between answers")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.count < 1 or args.channels < 1 or args.timeout <= 0:
        ap.error("--count, --channels and --timeout must be positive")

    ctx = zmq.Context()
    # Subscribe first: a SUB socket only sees what is published after it has
    # joined (the PUB/SUB "slow joiner").
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"dec/")
    sub.connect(args.decisions)
    out = ctx.socket(zmq.PUSH if args.socket == "push" else zmq.PUB)
    out.setsockopt(zmq.LINGER, 1000)
    out.setsockopt(zmq.SNDHWM, 0)  # queue rather than drop (a PUB drops at its high-water mark)
    if args.socket == "push":
        out.connect(args.records)
    else:
        out.bind(args.records)

    rnd = random.Random(args.seed)
    instance = rnd.getrandbits(64)  # a new publisher start: the daemon counts no loss
    seq = 0

    # Warm up: send records until one is decided, so that the subscription is
    # live before the records that count are sent.
    deadline = time.monotonic() + args.timeout
    while True:
        out.send_multipart(record(instance, seq, 0, "pulse", rnd))
        seq += 1
        if receive(sub, 200) is not None:
            break
        if time.monotonic() > deadline:
            print("no decision from %s within %.0f s: is cryocleand running?" %
                  (args.decisions, args.timeout), file=sys.stderr)
            return 1
    while receive(sub, 300) is not None:  # answers to the other warm-up records
        pass

    first = seq
    decided = {}
    counts = {"accept": 0, "reject": 0, "invalid": 0, "duplicate": 0}

    def take(d):
        if d["instance"] != instance or not first <= d["seq"] < first + args.count:
            return
        if d["seq"] in decided:
            print("duplicate decision for seq %d" % d["seq"], file=sys.stderr)
            counts["duplicate"] += 1
            return
        decided[d["seq"]] = d
        counts[d["verdict"]] = counts.get(d["verdict"], 0) + 1
        print("channel %3d  seq %6d  %-7s  score %5.3f  %-16s  %s" %
              (d["channel"], d["seq"], d["verdict"], d["score"], d["reason"], d["classifier"]))

    for i in range(args.count):
        kind = "jump" if i % 3 == 2 else "pulse"
        out.send_multipart(record(instance, seq, i % args.channels, kind, rnd))
        seq += 1
        while (d := receive(sub, 0)) is not None:
            take(d)
    while len(decided) < args.count:
        d = receive(sub, int(args.timeout * 1000))
        if d is None:
            break
        take(d)

    missing = args.count - len(decided)
    print("summary: %d records sent, %d decisions (accept %d, reject %d, invalid %d), %d missing"
          % (args.count, len(decided), counts["accept"], counts["reject"], counts["invalid"],
             missing))
    out.close()
    sub.close(linger=0)
    ctx.term()
    return 0 if missing == 0 and counts["duplicate"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

# Streaming keyword spotting on the device.
#
# Unix port (a long WAV instead of a microphone):
#   micropython examples/kws_app.py --model PACKAGE_DIR STREAM.wav
#   mpyml run examples/kws_app.py --model PACKAGE_DIR STREAM.wav
# Board with an I2S microphone (pins sck,ws,sd) and A/B model slots:
#   import kws_app; kws_app.main(["--slots", "/models", "--mic", "16,17,18"])
#
# Prints one line per detection:
#   detection t_ms=12340 label=yes score=0.912
# and a summary at the end (lines starting with "#"). `mpyml stream score`
# reads this output directly.
import sys
import time
from array import array

import tinyml
from tinyml import package
from tinyml.kws import KWS

USAGE = """usage: kws_app.py (--model DIR | --slots ROOT) [options] [STREAM.wav]
  --model DIR        model package folder (or ROMFS folder, or module:NAME)
  --slots ROOT       A/B model slots (tinyml.update), boot the valid one
  --mic SCK,WS,SD    read an I2S microphone instead of a WAV file
  --seconds N        stop after N seconds of audio (microphone: default forever)
  --hop-ms N         run the model every N ms (default 100)
  --threshold X      detection threshold (default: the package's)
  --config FILE      tinyml.config JSON (postprocess and gate sections)
  --chunk N          samples per read (default 512)
  --quiet            no per-detection lines, summary only"""


def _fail(msg):
    print("error: " + msg)
    sys.exit(2)


def parse_args(argv):
    opts = {"model": None, "slots": None, "mic": None, "seconds": None, "hop_ms": 100, "threshold": None,
            "config": None, "chunk": 512, "quiet": False, "wav": None}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            print(USAGE)
            sys.exit(0)
        if a == "--quiet":
            opts["quiet"] = True
        elif a.startswith("--"):
            key = a[2:].replace("-", "_")
            if key not in opts or i + 1 >= len(argv):
                _fail("unknown option or missing value: %s\n%s" % (a, USAGE))
            i += 1
            opts[key] = argv[i]
        elif opts["wav"] is None:
            opts["wav"] = a
        else:
            _fail("unexpected argument %r\n%s" % (a, USAGE))
        i += 1
    try:
        for key in ("hop_ms", "chunk"):
            opts[key] = int(opts[key])
        if opts["seconds"] is not None:
            opts["seconds"] = float(opts["seconds"])
        if opts["threshold"] is not None:
            opts["threshold"] = float(opts["threshold"])
    except ValueError as e:
        _fail("bad number: %s" % e)
    if (opts["model"] is None) == (opts["slots"] is None):
        _fail("give exactly one of --model and --slots\n" + USAGE)
    if (opts["wav"] is None) == (opts["mic"] is None):
        _fail("give a WAV file or --mic\n" + USAGE)
    if opts["hop_ms"] < 1 or opts["chunk"] < 1:
        _fail("--hop-ms and --chunk must be >= 1")
    return opts


def load_model(opts):
    if not hasattr(tinyml, "Interpreter") or not hasattr(tinyml, "AudioFrontend"):
        _fail("this firmware lacks tinyml.Interpreter / tinyml.AudioFrontend")
    try:
        if opts["slots"] is not None:
            from tinyml.update import Slots

            slots = Slots(opts["slots"], runtime=tinyml)
            pkg = slots.boot(health_check=lambda p: True)
        else:
            pkg = package.load(opts["model"])
    except package.PackageError as e:
        _fail("model refused (code %d): %s" % (e.code, e))
    return pkg


def open_source(opts, sample_rate):
    if opts["wav"] is not None:
        from tinyml.sources import WavSource

        src = WavSource(opts["wav"])
        rate = getattr(src, "sample_rate", sample_rate)
        if rate != sample_rate:
            _fail("%s is %d Hz; the model needs %d Hz" % (opts["wav"], rate, sample_rate))
        return src
    from tinyml.i2s import I2SMic

    pins = [int(p) for p in opts["mic"].split(",")]
    if len(pins) != 3:
        _fail("--mic needs SCK,WS,SD pin numbers")
    return I2SMic(pins[0], pins[1], pins[2], sample_rate=sample_rate)


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    pkg = load_model(opts)
    post = {}
    gate = None
    if opts["config"] is not None:
        from tinyml.config import Config

        cfg = Config.load(opts["config"])
        post = dict(cfg["postprocess"])
        gate = cfg.gate()
    if opts["threshold"] is not None:
        post["threshold"] = opts["threshold"]
    kws = KWS.from_package(pkg, hop_ms=opts["hop_ms"], postprocess=post, gate=gate)
    rate = kws.sample_rate
    src = open_source(opts, rate)
    limit = -1 if opts["seconds"] is None else int(opts["seconds"] * rate)
    buf = array("h", bytes(2 * opts["chunk"]))
    quiet = opts["quiet"]

    def on_detection(d):
        if not quiet:
            print("detection t_ms=%d label=%s score=%.3f" % (d.time_ms, d.label, d.score))

    print("# model %s %s (%s), labels %s, hop %d ms" % (pkg.name, pkg.version, pkg.storage, ",".join(pkg.labels),
                                                         kws.hop * 1000 // rate))
    total = 0
    busy_us = 0
    while limit < 0 or total < limit:
        n = src.readinto(buf)
        if n == 0:
            break
        if limit >= 0 and total + n > limit:
            n = limit - total
        t0 = time.ticks_us()
        kws.feed(buf, n, on_detection)
        busy_us += time.ticks_diff(time.ticks_us(), t0)
        total += n
    audio_ms = total * 1000 // rate
    print("# audio_ms=%d hops=%d inferences=%d detections=%d rejected=%d dropped=%d" % (
        audio_ms, kws.hops, kws.inferences, kws.detections, kws.rejected, kws.dropped))
    if audio_ms:
        print("# processing %d ms for %d ms of audio (%.1f%% of real time)" % (
            busy_us // 1000, audio_ms, 100.0 * busy_us / 1000 / audio_ms))
    return kws


if __name__ == "__main__":
    main()

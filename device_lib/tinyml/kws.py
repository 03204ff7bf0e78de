"""Streaming keyword spotting: samples -> frontend -> feature window ->
interpreter every hop -> scores -> post-processing.

    import tinyml
    from tinyml import package
    from tinyml.kws import KWS

    pkg = package.load("/models/kws", features=params)
    kws = KWS.from_package(pkg)            # frontend, window, recognizer
    while True:
        n = mic.readinto(chunk)            # int16 samples
        kws.feed(chunk, n, on_detection)   # on_detection(det) per event

Data path per hop (``hop_frames`` frontend frames, e.g. 5 x 20 ms):

1. ``feed`` appends samples to a ``RingBuffer`` (its overflow policy counts
   drops when the producer outruns the consumer; hops whose samples were
   overwritten are skipped);
2. the hop's new samples (one or two zero-copy views of the ring) go
   through the input gate (optional) and ``AudioFrontend.process``;
3. the frontend rolls the feature window (``frames`` x ``num_channels``
   int8, the model's input layout, oldest frame first) by one row per new
   frame. ``from_package`` configures it with the model's input
   quantization, so the C code writes int8 rows directly; a frontend that
   writes uint16 features (``feature_typecode="H"``) gets them converted
   here through a lookup table (``quantize(f * float_scale)`` with the
   input tensor's scale and zero point, computed once);
4. once the window is full, it is copied into the input tensor (one
   memmove), the model runs, and the int8 output scores go to the
   recognizer with the time of the hop's last sample (integer
   milliseconds from the sample counter, never the wall clock).

Steady state allocates nothing: every view and slice is made at
construction (and by the ring during its first pass), the hot path uses
integers only, and a gate-rejected hop skips inference and post-processing
without touching their state (the frontend still sees the samples, so its
noise estimates stay continuous).
"""

from array import array

from .ring import DROP_OLDEST, Hopper, RingBuffer


class _Slicer:
    def __getitem__(self, key):
        return key


_ALL = _Slicer()[:]  # one slice object, reused: `x[_ALL] = y` allocates nothing


def feature_lut(float_scale, scale, zero_point):
    """uint16 feature -> int8 model input, for every feature value below the
    point where the input saturates at 127 (larger values map to 127)."""
    if not float_scale > 0 or not scale > 0:
        raise ValueError("float_scale and scale must be > 0")
    top = 127 - zero_point
    n = int((top + 1) * scale / float_scale) + 2
    lut = array("b", bytes(n))
    for f in range(n):
        q = round(f * float_scale / scale) + zero_point
        lut[f] = -128 if q < -128 else (127 if q > 127 else q)
    return lut


class KWS:
    """Streaming keyword spotter over an interpreter and an audio frontend.

    ``frontend`` needs ``process(int16 samples, features_out) -> frames``;
    ``interpreter``: ``input(0)``/``output(0)`` int8 tensors (buffer
    protocol) and ``invoke()``. Features are uint16 (converted with the
    lookup table) unless ``feature_typecode`` is ``"b"`` (the frontend
    already writes the model's int8 input).
    """

    def __init__(self, interpreter, frontend, frames, num_channels, step_samples, hop_frames=5, sample_rate=16000,
                 float_scale=None, recognizer=None, gate=None, log=None, ring_hops=4, overflow=DROP_OLDEST,
                 feature_typecode="H"):
        for name, v in (("frames", frames), ("num_channels", num_channels), ("step_samples", step_samples),
                        ("hop_frames", hop_frames), ("sample_rate", sample_rate), ("ring_hops", ring_hops)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError("%s must be an int, not %s" % (name, type(v).__name__))
            if v < 1:
                raise ValueError("%s must be >= 1, got %d" % (name, v))
        if hop_frames > frames:
            raise ValueError("hop_frames (%d) must be <= frames (%d)" % (hop_frames, frames))
        if ring_hops < 2:
            raise ValueError("ring_hops must be >= 2, got %d" % ring_hops)
        if feature_typecode not in ("H", "b"):
            raise ValueError("feature_typecode must be 'H' (uint16) or 'b' (int8), got %r" % (feature_typecode,))
        self.interpreter = interpreter
        self.frontend = frontend
        self.frames = frames
        self.channels = num_channels
        self.step = step_samples
        self.hop_frames = hop_frames
        self.hop = hop_frames * step_samples
        self.sample_rate = sample_rate
        self.recognizer = recognizer
        self.gate = gate
        self.log = log
        c = num_channels
        size = frames * c

        inp = interpreter.input(0)
        self._inp = memoryview(inp)
        if len(self._inp) != size:
            raise ValueError("input tensor holds %d values, frames x num_channels is %d" % (len(self._inp), size))
        self._out = memoryview(interpreter.output(0))

        # Feature window: model input layout, oldest frame first.
        self._win = array("b", bytes(size))
        wv = memoryview(self._win)
        self._winv = wv
        self._int8_features = feature_typecode == "b"
        # The frames one hop can produce (+2: a hop straddling the ring's
        # wrap and the frontend's first-window offset).
        self._max_new = hop_frames + 2
        if self._int8_features:
            # The frontend shifts the window and maps new frames to int8.
            self._feat = None
            self.lut = None
        else:
            if float_scale is None:
                raise ValueError("uint16 features need float_scale (manifest features.input_mapping.float_scale)")
            self.lut = feature_lut(float_scale, inp.scale, inp.zero_point)
            # uint16 frames of one hop, rolling like the window: newest last.
            self._feat = array("H", bytes(2 * self._max_new * c))
            # Shift the window by k frames: window[0:size-k*c] = window[k*c:size].
            self._shift = [None]
            self._shift_src = [None]
            for k in range(1, self._max_new + 1):
                kk = min(k, frames)
                self._shift.append(wv[0:size - kk * c])
                self._shift_src.append(wv[kk * c:size])

        self.ring = RingBuffer(self.hop * ring_hops, "h", policy=overflow)
        self._hopper = Hopper(self.ring, self.hop, self.hop)
        self._spms = sample_rate // 1000 if sample_rate % 1000 == 0 else 0
        self.reset()

    @classmethod
    def from_package(cls, pkg, frontend=None, hop_ms=100, postprocess=None, gate=None, log=None, **kw):
        """A pipeline for a loaded package (``pkg.interpreter`` must exist).

        ``frontend`` defaults to ``tinyml.AudioFrontend(**features.params)``;
        ``postprocess`` (a dict of Recognizer arguments) defaults to the
        manifest's ``postprocess`` section.
        """
        from .postprocess import Recognizer

        m = pkg.manifest
        if pkg.interpreter is None:
            raise ValueError("open the package first (package.load or pkg.open)")
        feats = m["features"]
        params = feats.get("params")
        if not isinstance(params, dict):
            raise ValueError("manifest features.params is needed to configure the frontend")
        mapping = feats.get("input_mapping") or {}
        inp = pkg.interpreter.input(0)
        if frontend is None:
            import tinyml

            # The frontend maps features straight into the model's int8 input.
            args = dict(params)
            args["input_scale"] = inp.scale
            args["zero_point"] = inp.zero_point
            if mapping.get("float_scale") is not None:
                args["float_scale"] = mapping["float_scale"]
            frontend = tinyml.AudioFrontend(**args)
            kw["feature_typecode"] = "b"
        rate = params["sample_rate"]
        step = rate * params["window_step"] // 1000
        step_ms = params["window_step"]
        hop_frames = max(1, (hop_ms + step_ms // 2) // step_ms)
        frames = feats.get("frames") or m["input"]["shape"][1]
        channels = params["num_channels"]
        pp = dict(m.get("postprocess") or {})
        if postprocess:
            pp.update(postprocess)
        if pp.get("class_thresholds") == {}:
            pp["class_thresholds"] = None
        out = pkg.interpreter.output(0)
        rec = Recognizer(m["labels"], out.scale, out.zero_point, **pp)
        return cls(pkg.interpreter, frontend, frames, channels, step, hop_frames=hop_frames, sample_rate=rate,
                   float_scale=mapping.get("float_scale"), recognizer=rec, gate=gate, log=log, **kw)

    def reset(self):
        """Forget the audio so far (the frontend keeps its own state)."""
        self.filled = 0  # frames in the window (saturates at `frames`)
        self.frame_count = 0  # frames the frontend produced
        self.hops = 0
        self.inferences = 0
        self.rejected = 0
        self.detections = 0
        self.t_ms = 0
        self.last_cause = 0
        for i in range(len(self._win)):
            self._win[i] = 0

    @property
    def scores(self):
        """The output tensor (int8 scores of the last inference)."""
        return self._out

    @property
    def dropped(self):
        return self.ring.dropped

    def _ms(self, counter):
        if self._spms:
            return counter // self._spms
        return counter * 1000 // self.sample_rate

    def write(self, samples, n=-1):
        """Append int16 samples (array('h') / memoryview); returns how many
        the ring stored (the overflow policy decides the rest)."""
        return self.ring.write(samples, n)

    def feed(self, samples, n=-1, on_detection=None):
        """``write`` then ``process``; returns the number of inferences."""
        self.ring.write(samples, n)
        return self.process(on_detection)

    def process(self, on_detection=None):
        """Run every hop that is ready; ``on_detection(det)`` per event.
        Returns the number of inferences run."""
        ran = 0
        hopper = self._hopper
        while hopper.ready():
            if self._hop(hopper.end, on_detection):
                ran += 1
            hopper.advance()
        return ran

    def _hop(self, end, on_detection):
        a, b = self.ring.window(self.hop, end)
        cause = 0
        if self.gate is not None:
            cause = self.gate.check(a, b)
        fe = self.frontend
        out = self._win if self._int8_features else self._feat
        n = fe.process(a, out)
        if len(b):
            n += fe.process(b, out)
        if n:
            self._push(n)
        self.hops += 1
        t = self._ms(end)
        self.t_ms = t
        self.last_cause = cause
        if self.filled < self.frames:
            return False
        if cause:
            self.rejected += 1
            if self.log is not None:
                g = self.gate
                self.log.window(self.hops, t, cause=cause, lo=g.min, hi=g.max, level=g.mean_abs)
            return False
        self._inp[_ALL] = self._winv
        self.interpreter.invoke()
        self.inferences += 1
        det = None
        if self.recognizer is not None:
            det = self.recognizer.update(self._out, t)
        if self.log is not None:
            self.log.window(self.hops, t, scores=self._out, label=-1 if det is None else det.index)
        if det is not None:
            self.detections += 1
            if on_detection is not None:
                on_detection(det)
        return True

    def _push(self, n):
        frames = self.frames
        self.frame_count += n
        filled = self.filled + n
        self.filled = frames if filled > frames else filled
        if self._int8_features:
            return  # already in the window
        if n > self._max_new:
            raise ValueError("frontend produced %d frames for one hop (at most %d expected)" % (n, self._max_new))
        self._shift[n][_ALL] = self._shift_src[n]
        k = n if n < frames else frames
        c = self.channels
        lut = self.lut
        top = len(lut)
        feat = self._feat
        win = self._win
        base = (frames - k) * c
        src = (self._max_new - k) * c
        for j in range(k * c):
            f = feat[src + j]
            win[base + j] = lut[f] if f < top else 127

# tinyml.config.Config: defaults, validation naming the field, JSON round trip.
import json
import os

from tinyml.config import SCHEMA, Config
from tinyml.testing import raises

PATH = "/tmp/mpyml_devtest_config.json"


def teardown():
    for p in (PATH, PATH + ".tmp"):
        try:
            os.remove(p)
        except OSError:
            pass


def test_defaults_are_valid_and_complete():
    cfg = Config()
    for section, fields in SCHEMA.items():
        if fields is None:
            continue
        for name, spec in fields.items():
            assert cfg.get(section + "." + name) == spec[1]


def test_exit_above_enter_names_the_field():
    with raises(ValueError, "postprocess.exit_threshold (0.9) must be <= postprocess.threshold (0.8)"):
        Config({"postprocess": {"threshold": 0.8, "exit_threshold": 0.9}})


def test_field_errors():
    cases = [
        ({"postprocess": {"threshold": 1.2}}, ValueError, "postprocess.threshold (1.2) must be within"),
        ({"postprocess": {"minimum_count": "3"}}, TypeError, "postprocess.minimum_count must be an integer"),
        ({"postprocess": {"suppression_ms": 1.5}}, TypeError, "postprocess.suppression_ms"),
        ({"postprocess": {"vote_k": 3, "vote_m": 2}}, ValueError, "postprocess.vote_k (3) must be <= postprocess.vote_m"),
        ({"postprocess": {"tresh": 0.5}}, ValueError, "unknown field postprocess.tresh"),
        ({"postprocess": {"class_thresholds": {"yes": [0.5, 0.7]}}}, ValueError,
         "postprocess.class_thresholds.yes: exit (0.7) must be <= enter (0.5)"),
        ({"postprocess": {"class_thresholds": {"yes": "high"}}}, ValueError, "postprocess.class_thresholds.yes"),
        ({"gate": {"lo": 5, "hi": 1}}, ValueError, "gate.lo (5) must be <= gate.hi (1)"),
        ({"gate": {"stuck_samples": 1}}, ValueError, "gate.stuck_samples"),
        ({"logging": {"every": -1}}, ValueError, "logging.every (-1)"),
        ({"duty": {"collect": 0}}, ValueError, "duty.collect (0)"),
        ({"nonsense": {}}, ValueError, "unknown config section 'nonsense'"),
        ({"gate": 3}, TypeError, "config section gate must be an object"),
        ({"postprocess": {"threshold": True}}, TypeError, "postprocess.threshold must be a number"),
    ]
    for data, exc, msg in cases:
        with raises(exc, msg):
            Config(data)
    with raises(TypeError, "config must be an object"):
        Config([1, 2])


def test_set_validates_and_keeps_old_value():
    cfg = Config({"postprocess": {"threshold": 0.8, "exit_threshold": 0.6}})
    cfg.set("postprocess.threshold", 0.7)
    assert cfg.get("postprocess.threshold") == 0.7
    with raises(ValueError, "exit_threshold (0.6) must be <= postprocess.threshold (0.5)"):
        cfg.set("postprocess.threshold", 0.5)
    assert cfg.get("postprocess.threshold") == 0.7
    with raises(ValueError, "unknown field"):
        cfg.set("postprocess.nope", 1)
    with raises(ValueError, "section.field"):
        cfg.get("threshold")


def test_save_load_round_trip():
    cfg = Config({"postprocess": {"threshold": 0.75, "class_thresholds": {"yes": [0.9, 0.5]}},
                  "gate": {"stuck_samples": 400}, "calibration": {"imu": {"version": 1}}})
    cfg.save(PATH)
    cfg.set("postprocess.threshold", 0.6)
    cfg.save(PATH)  # replaces the existing file
    back = Config.load(PATH)
    assert back.to_dict() == cfg.to_dict()
    assert back.get("postprocess.threshold") == 0.6
    assert back["postprocess"]["class_thresholds"] == {"yes": [0.9, 0.5]}
    assert back["calibration"]["imu"] == {"version": 1}
    try:
        os.stat(PATH + ".tmp")
        raise AssertionError("temporary file left behind")
    except OSError:
        pass


def test_load_reports_file_and_field():
    with open(PATH, "w") as f:
        f.write(json.dumps({"postprocess": {"threshold": 0.5, "exit_threshold": 0.7}}))
    with raises(ValueError, PATH + ": postprocess.exit_threshold"):
        Config.load(PATH)
    for text in ("{not json", "{", '{"gate": {"lo": 1}'):
        with open(PATH, "w") as f:
            f.write(text)
        with raises(ValueError, "not valid JSON"):
            Config.load(PATH)


def test_builds_recognizer_and_gate():
    cfg = Config({"postprocess": {"threshold": 0.7, "minimum_count": 1, "average_window_ms": 0},
                  "gate": {"lo": -100, "hi": 100}})
    rec = cfg.recognizer(["_silence_", "yes"], 1 / 256, -128)
    from array import array

    assert rec.update(array("b", [-128, 127]), 0) is not None
    assert cfg.gate().check(array("h", [0, 200, 5])) != 0
    # per-class thresholds are checked against the model's labels
    bad = Config({"postprocess": {"class_thresholds": {"maybe": 0.5}}})
    with raises(ValueError, "unknown label 'maybe'"):
        bad.recognizer(["_silence_", "yes"], 1 / 256, -128)


def test_json_complete_guard():
    from tinyml.config import json_complete

    assert json_complete('{"a": {"b": [1, 2]}, "c": "}{\\" ]"}')
    for text in ('{"a": {"b": 1}', "{", '{"a": "}', "[1]", '{"a": 1}}', ""):
        assert not json_complete(text), text
    cfg = Config.from_json('{"postprocess": {"class_thresholds": {"odd}name": 0.5}}}')
    assert cfg["postprocess"]["class_thresholds"] == {"odd}name": 0.5}


def test_builds_log_and_duty_cycle():
    from tinyml.clock import SimClock
    from tinyml.logring import size
    from tinyml.ring import RingBuffer

    cfg = Config({"logging": {"every": 2, "capacity": 8, "n_scores": 0},
                  "duty": {"preroll": 100, "collect": 400, "check_samples": 50, "cooldown_ms": 7}})
    log = cfg.log(bytearray(size(8, 0)))
    assert (log.capacity, log.every, log.n_scores) == (8, 2, 0)
    assert [log.window(i, i) for i in range(4)] == [True, False, True, False]
    clock = SimClock()
    duty = cfg.duty(RingBuffer(1000, "h"), lambda buf: 0, None, ticks_ms=clock.ticks_ms,
                    ticks_diff=clock.ticks_diff, sleep_ms=clock.sleep_ms)
    assert (duty.preroll, duty.collect, duty.check_samples, duty.cooldown_ms) == (100, 400, 50, 7)
    with raises(ValueError, "exceeds the ring capacity"):
        cfg.duty(RingBuffer(300, "h"), None, None, ticks_ms=1, ticks_diff=1, sleep_ms=1)

import time

from datasets_app.media import signed


def test_signature_round_trips_and_binds_every_part():
    exp = signed.expiry(60)
    sig = signed.sign("download", "a/b.mp4", expires=exp)
    assert signed.verify("download", "a/b.mp4", expires=exp, signature=sig)
    assert not signed.verify("download", "a/c.mp4", expires=exp, signature=sig)
    assert not signed.verify("upload", "a/b.mp4", expires=exp, signature=sig)
    assert not signed.verify("download", "a/b.mp4", expires=exp + 1, signature=sig)
    assert not signed.verify("download", "a/b.mp4", expires="soon", signature=sig)


def test_expired_signature_is_refused():
    exp = int(time.time()) - 1
    sig = signed.sign("download", "k", expires=exp)
    assert not signed.verify("download", "k", expires=exp, signature=sig)

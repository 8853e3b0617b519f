"""The standard TIMIT speaker lists (public facts, lower case as in Kaldi's egs/timit/s5/conf).

The core test set is the one defined in the TIMIT documentation (testset.doc): in each dialect
region DR1-DR8, two male and one female speaker of the test part, 24 speakers; with their SI and
SX sentences (8 each) it holds 192 utterances. The development set is the 50 other test-part
speakers of Halberstadt (1998), as in Kaldi's ``conf/dev_spk.list``: 400 utterances.
"""
from __future__ import annotations

CORE_TEST_SPEAKERS: dict[str, tuple[str, ...]] = {  # dialect region -> speakers
    "dr1": ("mdab0", "mwbt0", "felc0"),
    "dr2": ("mtas1", "mwew0", "fpas0"),
    "dr3": ("mjmp0", "mlnt0", "fpkt0"),
    "dr4": ("mlll0", "mtls0", "fjlm0"),
    "dr5": ("mbpm0", "mklt0", "fnlp0"),
    "dr6": ("mcmj0", "mjdh0", "fmgd0"),
    "dr7": ("mgrt0", "mnjm0", "fdhc0"),
    "dr8": ("mjln0", "mpam0", "fmld0"),
}

DEV_SPEAKERS: tuple[str, ...] = (
    "faks0", "fdac1", "fjem0", "mgwt0", "mjar0", "mmdb1", "mmdm2", "mpdf0", "fcmh0", "fkms0",
    "mbdg0", "mbwm0", "mcsh0", "fadg0", "fdms0", "fedw0", "mgjf0", "mglb0", "mrtk0", "mtaa0",
    "mtdt0", "mthc0", "mwjg0", "fnmr0", "frew0", "fsem0", "mbns0", "mmjr0", "mdls0", "mdlf0",
    "mdvc0", "mers0", "fmah0", "fdrw0", "mrcs0", "mrjm4", "fcal1", "mmwh0", "fjsj0", "majc0",
    "mjsw0", "mreb0", "fgjd0", "fjmg0", "mroa0", "mteb0", "mjfc0", "mrjr0", "fmml0", "mrws1",
)

CORE_TEST: tuple[str, ...] = tuple(s for speakers in CORE_TEST_SPEAKERS.values() for s in speakers)
TRAIN_SPEAKER_COUNT = 462  # the whole training part
SENTENCES_PER_SPEAKER = 8  # 5 SX + 3 SI once the 2 SA sentences are dropped

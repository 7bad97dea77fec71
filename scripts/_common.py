"""What every rule script does first: log to the rule's log file, and give torch the rule's threads
and deterministic algorithms (deepleak.training.make_deterministic)."""
import logging
import sys


def setup(snakemake) -> None:
    logging.basicConfig(filename=snakemake.log[0] if snakemake.log else None, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    # Warnings go to the job's log too: torch's, under warn_only, name each op that ran without a
    # deterministic kernel (once per op and place, Python's default warning filter).
    logging.captureWarnings(True)
    # An error with a message for the user (a corrupted input, a missing dataset, a full disk) is
    # one line naming the file and what to do; its traceback goes to the log (deepleak/errors.py).
    from deepleak import errors

    sys.excepthook = errors.excepthook(getattr(snakemake, "rule", "of this job"),
                                       snakemake.log[0] if snakemake.log else None)
    if "torch" in sys.modules:  # table and figure scripts never import torch: keep them fast
        from deepleak import training

        # Before the job's first CUDA call: the scripts' module level only imports.
        training.make_deterministic()
        if not training.flush_denormals():
            logging.getLogger(__name__).info("this CPU cannot flush subnormal floats to zero: "
                                             "the attack models train slower on it")
        sys.modules["torch"].set_num_threads(max(1, int(snakemake.threads)))

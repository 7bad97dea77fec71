"""What every rule script does first: log to the rule's log file and give torch the rule's threads."""
import logging
import sys


def setup(snakemake) -> None:
    logging.basicConfig(filename=snakemake.log[0] if snakemake.log else None, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    if "torch" in sys.modules:  # table and figure scripts never import torch: keep them fast
        sys.modules["torch"].set_num_threads(max(1, int(snakemake.threads)))

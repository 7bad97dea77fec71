"""The paper's attacks and the threshold baselines on one DP-SGD target (rule dp_attacks):
scripts/run_attack.py's and scripts/run_baselines.py's mains on its features."""
import run_attack
import run_baselines


def main(features_path, shadow_path, splits_path, scores_outs, metrics_outs, *, attacks, hp,
         knowledge_fractions, metrics_cfg, seeds, baseline_seed):
    n = len(attacks)  # outputs: the attacks in order, then the baselines
    run_attack.main(features_path, splits_path, scores_outs[:n], metrics_outs[:n], attacks=attacks,
                    hp=hp, knowledge_fractions=knowledge_fractions, metrics_cfg=metrics_cfg,
                    seeds=seeds)
    run_baselines.main(features_path, shadow_path, splits_path, scores_outs[n], metrics_outs[n],
                       metrics_cfg=metrics_cfg, seed=baseline_seed)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.features, snakemake.input.shadow, snakemake.input.splits,
         snakemake.output.scores, snakemake.output.metrics, **snakemake.params)

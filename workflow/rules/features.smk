# Stage 3: attack features of a model on the records the attacks use (SPEC.md 2.1): logits, loss, label,
# every layer's output, and per-example gradients of the last layers as factors (DESIGN.md 4.1).


rule extract_features:
    input:
        dataset="results/{dataset}/dataset.npz",
        splits="results/{dataset}/standalone/{rep}/splits.npz",
        model="results/{dataset}/standalone/{rep}/models/{model}/model.pt",
        meta="results/{dataset}/standalone/{rep}/models/{model}/meta.json",
    output:
        features="results/{dataset}/standalone/{rep}/features/{model}.npz",
    log:
        "logs/{dataset}/standalone/{rep}/features_{model}.log",
    benchmark:
        "benchmarks/{dataset}/standalone/{rep}/features_{model}.tsv"
    threads: config["threads"]
    resources:
        gpu=lambda wc: uses_gpu(wc.dataset),
    params:
        gradient_layers=STANDALONE["gradient_layers"],
        # Image models (deepleak/cnn.py): how a conv layer's gradient is stored (the paper leaves it
        # open, SPEC.md 2.2), the size above which a layer output is stored as per-channel means, and
        # batch sizes that bound memory (per dataset: a DenseNet-190 needs far smaller ones than AlexNet).
        conv_gradient=STANDALONE.get("conv_gradient", "channel_norms"),
        max_output_features=STANDALONE.get("max_output_features"),
        batching=lambda wc: dataset_cfg(wc.dataset).get("features", {}),
        device=config["device"],
    script:
        "../../scripts/extract_features.py"

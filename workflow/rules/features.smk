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
    params:
        gradient_layers=STANDALONE["gradient_layers"],
    script:
        "../../scripts/extract_features.py"

"""The model a `thrifty data` action generates with (pairs' answers, augment's rewrites): a `thrifty train`
run folder, an adapter folder, a bundled name, a model folder or a hub id, loaded as `thrifty generate`
loads them."""

from pathlib import Path


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and (path / "config.yaml").is_file() and not (path / "config.json").is_file()


def is_adapter_folder(path: Path) -> bool:
    return path.is_dir() and (path / "adapter_config.json").is_file()


def check_generator(name: str) -> None:
    """What load_generator would refuse first (a missing folder, an unknown name, an uncached hub id
    offline), without torch: an action checks it before loading anything."""
    from thrifty.models.registry import check_model_name

    path = Path(name).expanduser()
    if not (is_run_folder(path) or is_adapter_folder(path)):
        check_model_name(name)


def load_generator(
    name: str, device: str = "auto", trust_remote_code: bool = False, system: str | None = None
):
    """(model, tokenizer, system prompt): a run folder gives its fine-tuned model and the system prompt it
    trained with (unless `system` is given), an adapter folder loads on its run's base."""
    from thrifty.inference.device import choose_device
    from thrifty.inference.generate import load_for_generation

    chosen = choose_device(device)
    path = Path(name).expanduser()
    if is_run_folder(path):
        from thrifty.inference.run_folder import load_tokenizer_for, load_tuned, open_run

        run = open_run(path, trust_remote_code)
        return (
            load_tuned(run, device=chosen),
            load_tokenizer_for(run),
            system or run.config.data.system_prompt,
        )
    if is_adapter_folder(path):
        model, tokenizer = load_for_generation(None, str(path), trust_remote_code, chosen)
    else:
        check_generator(name)  # one line for a missing folder or unknown name
        model, tokenizer = load_for_generation(name, None, trust_remote_code, chosen)
    return model, tokenizer, system

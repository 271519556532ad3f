"""The Trainer thrifty builds: one process on one device, never a silent DataParallel."""

from types import SimpleNamespace

from transformers.training_args import ParallelMode

from thrifty.train.trainer import one_device


def test_several_visible_gpus_in_one_process_train_on_one_without_dataparallel(capsys):
    # HF Trainer wraps the model in nn.DataParallel when args.n_gpu > 1, which would split packed [1, T]
    # rows; thrifty pins one device and says how to use the others.
    args = SimpleNamespace(n_gpu=4, _n_gpu=4, parallel_mode=ParallelMode.NOT_DISTRIBUTED, device="cuda:0")
    one_device(args)
    assert args._n_gpu == 1
    assert "4 GPUs are visible" in capsys.readouterr().err


def test_a_launched_process_is_left_to_its_launcher(capsys):
    args = SimpleNamespace(n_gpu=1, _n_gpu=1, parallel_mode=ParallelMode.DISTRIBUTED, device="cuda:1")
    one_device(args)
    assert args._n_gpu == 1 and capsys.readouterr().err == ""


def test_real_training_arguments_on_this_machine_keep_one_process_device(tmp_path):
    from thrifty.config.load import load_config
    from thrifty.train.trainer import training_arguments

    args = training_arguments(load_config(None, []), "fp32", tmp_path)
    one_device(args)
    assert args.n_gpu <= 1

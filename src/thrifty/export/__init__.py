"""Ship a run: merged safetensors, GGUF files for llama.cpp, an Ollama Modelfile, int8, a model card."""

#!/bin/sh
# One machine, several GPUs: one shard of a study per GPU with GNU parallel, then the merged report.
#   scale-out/gnu-parallel.sh <study> <gpus> [reproduce options, e.g. --quick --seeds 42,1,2]
# Each shard writes its unit files into the same --out directory; running the script again continues every shard.
# Pinning: slot {%} runs on GPU {%}-1. NVIDIA's Vulkan driver (what Dawn uses) does not read CUDA_VISIBLE_DEVICES;
# where all shards land on one GPU, give each its own container (docker run --gpus device=N ...) instead.
set -eu
study=$1 gpus=$2
shift 2
out="runs/reproduce/$study"
seq 1 "$gpus" | parallel -j "$gpus" --line-buffer --halt soon,fail=1 \
  "CUDA_VISIBLE_DEVICES=\$(({%} - 1)) NVIDIA_VISIBLE_DEVICES=\$(({%} - 1)) npm run -s reproduce -- $study --shard {}/$gpus --out $out $*"
npm run -s reproduce -- "$study" --merge --out "$out" "$@"

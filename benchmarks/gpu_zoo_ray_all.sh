#!/bin/sh
# The runs of issues 17 and 18 in one or two device calls, each step under its own timeout, the
# results tarred into $OUT after every step so that a step cut short loses only itself (a
# device call brings back at most 8 files). Ray must be importable (see
# ../shared/recipes/ray-on-the-gpu-machine.md); then, from the repository root:
#
#   sh benchmarks/gpu_zoo_ray_all.sh scaling "$OUT"   # 24 models: Ray on every GPU, then on one
#   sh benchmarks/gpu_zoo_ray_all.sh overhead "$OUT"  # 12 models on one GPU: local, then Ray
#   sh benchmarks/gpu_zoo_ray_all.sh overhead-again "$OUT"  # the same, Ray first
#
# GRAPHS=1 adds --cuda-graphs (replays steady across processes, issue 14); STEP_S is each
# step's time limit (default 280 s). Read the runs back with
#   python benchmarks/gpu_zoo_ray.py table RUN...
set -u
what=$1
out=$2
work=/tmp/zoo-runs
mkdir -p "$work"
gpus=$(nvidia-smi -L | wc -l)
all=$(seq -s, 0 $((gpus - 1)))
extra=""
[ "${GRAPHS:-0}" = 1 ] && extra="--cuda-graphs"

step() {  # step NAME DEVICES ZOO EXECUTOR
    echo "== $1 (CUDA_VISIBLE_DEVICES=$2, $4) $(date +%T)"
    CUDA_VISIBLE_DEVICES=$2 timeout "${STEP_S:-280}" python3 benchmarks/gpu_zoo_ray.py run "$work/$1" -- \
        "$3" --executor "$4" $extra -q 2>&1 | tail -2
    tar czf "$out/$what.tgz" -C "$work" .
}

case $what in
    scaling)
        step "ray-${gpus}gpu" "$all" examples/zoo/imagenet24.yaml ray
        step ray-1gpu 0 examples/zoo/imagenet24.yaml ray ;;
    overhead)  # then overhead-again, in the other order: a drift over the session shows as such
        step local-12 0 examples/zoo/imagenet.yaml local
        step ray-12 0 examples/zoo/imagenet.yaml ray ;;
    overhead-again)
        step ray-12-b 0 examples/zoo/imagenet.yaml ray
        step local-12-b 0 examples/zoo/imagenet.yaml local ;;
    *)
        echo "usage: sh benchmarks/gpu_zoo_ray_all.sh scaling|overhead|overhead-again OUT" >&2
        exit 2 ;;
esac
python3 benchmarks/gpu_zoo_ray.py table "$work"/*/

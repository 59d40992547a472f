#!/bin/bash
# A Slurm job array: task i of N runs shard i/N of a study on one GPU; a dependent job merges the report.
#   STUDY=lifecycle-dyck N=6 sbatch --array=1-6 --export=ALL scale-out/slurm-array.sh
#   sbatch --dependency=afterok:<array job id> --wrap "npm run -s reproduce -- lifecycle-dyck --merge"
# --out must be on a file system every node sees. A task that is killed (time limit, preemption) keeps the units
# it finished: requeue it (or resubmit the array) and it runs only the rest.
#SBATCH --job-name=reproduce
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=2
#SBATCH --time=02:00:00
#SBATCH --requeue
set -euo pipefail
: "${STUDY:?set STUDY}" "${N:=${SLURM_ARRAY_TASK_COUNT:?run as a job array}}"
npm run -s reproduce -- "$STUDY" --shard "${SLURM_ARRAY_TASK_ID}/${N}" --out "${OUT:-runs/reproduce/$STUDY}" ${EXTRA:-}

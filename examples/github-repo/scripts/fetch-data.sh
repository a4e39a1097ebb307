#!/usr/bin/env bash
# Your data pull: weekly-retrain.yml runs this before validating. It must leave the
# fresh training data where ci-ml.yaml points (data/train.csv); the evaluation file
# stays fixed so champion and challenger are compared on the same rows.
# Replace the body with your own (a warehouse export, `dvc pull`, an S3 copy ...).
set -euo pipefail

if [ -n "${FRESH_DATA_URL:-}" ]; then
  curl --fail --silent --show-error --location "$FRESH_DATA_URL" --output data/train.csv.new
  mv data/train.csv.new data/train.csv
  echo "fetched data/train.csv from FRESH_DATA_URL"
else
  echo "FRESH_DATA_URL is not set: keeping the committed data/train.csv"
fi

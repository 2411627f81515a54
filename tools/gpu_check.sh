#!/usr/bin/env bash
# One-shot check of the GPU paths on a lent NVIDIA machine, then `realtime bench` at 1080p and 4K.
#
#   bash tools/gpu_check.sh [OUTDIR]        # OUTDIR defaults to $OUT (the device tool's), else gpu_check_out
#
# Run from the repository root. The lent machines have Python 3.12, PyTorch, CuPy, onnxruntime (CPU
# build) and opencv-python-headless but no PyAV, TensorFlow or TensorRT, and nothing can be
# downloaded there; carry PyAV as a wheel in .whl/ (git-ignored), made on a machine with internet:
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 -d .whl av
#
# Every step reports its own failure and the script goes on, so one missing piece (no OpenCL
# device, no NVENC library in the container) still leaves the rest of the report. Everything is
# written to OUTDIR/gpu_check.log, the probe results to OUTDIR/probe.json, the benches to
# OUTDIR/bench.json, OUTDIR/bench.png and OUTDIR/bench_live.json.
set -u -o pipefail

OUTDIR="${1:-${OUT:-gpu_check_out}}"
mkdir -p "$OUTDIR"
PY="${PYTHON:-python3}"
CLIPS="${CLIPS:-/tmp/gpu_check_clips}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-360}"
BENCH_FRAMES="${BENCH_FRAMES:-90}"
export PYTHONUNBUFFERED=1

if ! "$PY" -c "import av" 2>/dev/null && compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "could not install the carried wheels in .whl/"; exit 1; }
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

# The driver's user-space libraries are mounted under /usr/local/nvidia on these machines, off the
# linker's path: FFmpeg dlopens libnvcuvid (NVDEC) and libnvidia-encode (NVENC) by name, and
# OpenCV's OpenCL loader only sees drivers registered in /etc/OpenCL/vendors (the image registers
# just a CPU one, PoCL, which OpenCV does not use).
for dir in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    [ -d "$dir" ] && export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
ocl_driver=$(find /usr/local/nvidia /usr/lib/x86_64-linux-gnu -name 'libnvidia-opencl.so.1' 2>/dev/null | head -n1)
ocl_note="no libnvidia-opencl.so.1 found"
if [ -n "$ocl_driver" ]; then
    ocl_note="$ocl_driver already registered for OpenCL"
    if ! grep -qs nvidia-opencl /etc/OpenCL/vendors/*.icd; then
        if mkdir -p /etc/OpenCL/vendors 2>/dev/null && echo "$ocl_driver" >/etc/OpenCL/vendors/nvidia.icd 2>/dev/null; then
            ocl_note="registered $ocl_driver in /etc/OpenCL/vendors/nvidia.icd"
        else
            ocl_note="could not register $ocl_driver in /etc/OpenCL/vendors (not root?)"
        fi
    fi
fi

{
    echo "== machine ($(date -u +%FT%TZ))"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
        || echo "nvidia-smi: not found"
    "$PY" -c 'import sys; print("python", sys.version.split()[0])'
    echo "opencl driver: $ocl_note"
    echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"

    echo "== realtime doctor"
    "$PY" -m realtime doctor || echo "doctor failed (exit $?)"

    echo "== GPU paths, tried for real"
    "$PY" tools/gpu_probe.py --json "$OUTDIR/probe.json" --clip-dir "$CLIPS" --frames "${FRAMES:-60}" || echo "probe failed (exit $?)"

    echo "== refiner alone (ONNX Runtime, one thread)"
    timeout "$BENCH_TIMEOUT" "$PY" tools/bench_refiner.py --repeat 50 || echo "bench_refiner failed (exit $?)"

    echo "== realtime bench at 1080p and 4K, every backend (the ones this machine lacks are skipped)"
    timeout "$BENCH_TIMEOUT" "$PY" -m realtime bench --synthetic 1920x1080,3840x2160 --frames "$BENCH_FRAMES" \
        --repeat 3 --backend numpy,opencl,cuda --json "$OUTDIR/bench.json" --plot "$OUTDIR/bench.png" \
        || echo "bench: exit $?"
    echo "== realtime bench, live 1080p at 30 fps (capture-to-sink latency, drops)"
    timeout 90 "$PY" -m realtime bench synthetic:1920x1080@30 --frames 150 --repeat 1 --backend numpy,opencl \
        --json "$OUTDIR/bench_live.json" || echo "live bench: exit $?"
    echo "== done ($(date -u +%FT%TZ))"
} 2>&1 | tee "$OUTDIR/gpu_check.log"

# common.sh — the set-up the DEPT test scripts share, sourced right after they read their
# arguments: `here` (this folder), a scratch folder as the working directory (removed on
# exit), one BLAS thread, the JIT off (tested elsewhere; its compile time would dominate these runs), the
# tiny model LM, the verdict helpers ok / bad (../testlib.sh) and gen (gen.py).
. "$(dirname "$0")/../testlib.sh"
here=$(cd "$(dirname "$0")" && pwd)
cd "$tmp" || exit 1
export MAMC_NO_JIT=1
# one BLAS thread, as each process of an mpirun has: OpenBLAS's results depend on its thread
# count, and these tests compare processes with a single process bit for bit
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
LM=$here/tiny_lm.mam
gen() { python3 "$here/gen.py" "$@"; }

"""Write the module `icd_codes_2026` from the Rust plugin's code list.

    python3 gen_codes.py ../icd-coding/data/codes-2026.txt OUT_DIR

writes `OUT_DIR/icd_codes_2026.py` with `TABLE`, the file's text, so that the component
carries the very list the Rust plugin compiles in, and the repository holds it once.
`build.sh` and `test.sh` run it into their temporary folders.
"""

import sys
from pathlib import Path


def main():
    table_path, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    table = table_path.read_text(encoding="ascii")
    module = (
        f'"""ICD-10-CM FY2026 codes: `{table_path.name}` written by `gen_codes.py`; do not edit."""\n'
        f"\nTABLE = {table!r}\n"
    )
    (out_dir / "icd_codes_2026.py").write_text(module, encoding="ascii")


if __name__ == "__main__":
    main()

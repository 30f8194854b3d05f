import sys, tempfile, os
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import run as b
python, tool = b.venv()
work = Path(tempfile.mkdtemp(prefix="tool-bench24-"))
(work / "bin").mkdir()
b.write(work / "bin" / "tool-noop", "#!/bin/sh\nexit 0\n")
env = {"PATH": f"{work}/bin:{Path(python).parent}:/usr/bin:/bin", "HOME": str(work / "home"), "XDG_CACHE_HOME": str(work / "cache"), "LC_ALL": "C.UTF-8"}
os.mkdir(work / "home")
times = b.alternate({"tool noop": [tool, "noop"], "tool --sandbox noop": [tool, "--sandbox", "noop"], "python -c pass": [python, "-c", "pass"]}, env, int(sys.argv[1]) if len(sys.argv) > 1 else 40)
for n in times:
    print(f"{n:24} {b.ms(times[n]):.2f} ms  {b.ratio(times, n, 'python -c pass'):.3f}x")

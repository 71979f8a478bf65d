#!/bin/sh
# make-prompts.sh PROMPTS.tsv OUT: every hotline prompt as OUT/<lang>/<name>.wav
# (8 kHz, 16-bit mono, what Asterisk plays without transcoding), spoken by espeak-ng:
# en and es with their voices, zh with the Mandarin voice (cmn). A line's fifth
# column, when given, is the voice for all three (the language choices).
set -eu
tsv="$1"
out="$2"
tab="$(printf '\t')"
grep -v '^#' "$tsv" | while IFS="$tab" read -r name en es zh voice; do
    for lang in en es zh; do
        case "$lang" in
            en) text="$en"; v="en-us" ;;
            es) text="$es"; v="es" ;;
            zh) text="$zh"; v="cmn" ;;
        esac
        [ -n "$voice" ] && v="$voice"
        mkdir -p "$out/$lang"
        espeak-ng -v "$v" -s 150 -w "/tmp/$name.wav" "$text"
        sox "/tmp/$name.wav" -r 8000 -c 1 -b 16 "$out/$lang/$name.wav" gain -n -3
        rm -f "/tmp/$name.wav"
    done
done
# Mandarin digits for SAY NUMBER / SAY DIGITS (Asterisk ships no zh core sounds)
mkdir -p "$out/zh/digits"
n=0
for word in 零 一 二 三 四 五 六 七 八 九 十; do
    espeak-ng -v cmn -w /tmp/d.wav "$word"
    sox /tmp/d.wav -r 8000 -c 1 -b 16 "$out/zh/digits/$n.wav" gain -n -3
    n=$((n + 1))
done
for pair in "hundred:百" "thousand:千" "wan:万"; do
    espeak-ng -v cmn -w /tmp/d.wav "${pair#*:}"
    sox /tmp/d.wav -r 8000 -c 1 -b 16 "$out/zh/digits/${pair%%:*}.wav" gain -n -3
done
rm -f /tmp/d.wav

#!/usr/bin/env bash
# Generates the default voice prompt set of centralino under prompts/<lang>/<name>.wav
# (16 kHz, 16-bit, mono, peak-normalised to -3 dBFS, lead-in/out silence trimmed).
#
# Needs: espeak-ng (voices "it" and "en") and sox. The generated WAVs are committed, so the
# product itself runs without either tool; run this only to change or re-create the set:
#
#     prompts/generate.sh            # all languages
#     prompts/generate.sh it         # one language
#
# Texts are for the invented organisation "Comune di Esempio" / "Example Town Council".
# Output is deterministic (no dither, fixed synthesis), so re-running it changes nothing unless
# a text or a tool version changed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rate=16000
speed_it=160 # espeak-ng words per minute
speed_en=160

for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null || { echo "generate.sh: $tool is not installed" >&2; exit 1; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# -D: no dither, -R: repeatable; keeps the output byte-identical between runs.
SOX=(sox -D -R -V1)
OUTFMT=(-r "$rate" -b 16 -c 1 -e signed-integer)

# say LANG NAME TEXT
say() {
    local lang="$1" name="$2" text="$3" speed
    if [[ "$lang" == it ]]; then speed=$speed_it; else speed=$speed_en; fi
    espeak-ng -v "$lang" -s "$speed" -w "$tmp/raw.wav" -- "$text"
    # silence at the start, then (reversed) at the end; resample; normalise to -3 dBFS.
    "${SOX[@]}" "$tmp/raw.wav" "${OUTFMT[@]}" "$here/$lang/$name.wav" \
        silence 1 0.02 0.3% reverse silence 1 0.02 0.3% reverse \
        rate -v "$rate" gain -n -3
}

# The prompt texts, one line per prompt: NAME|TEXT. Numbers are written as words so that
# espeak-ng reads them the same in every version.
texts_it() {
    cat <<'EOF'
welcome|Benvenuti nel servizio di assistenza ai cittadini del Comune di Esempio. Il servizio è aperto dal lunedì al venerdì dalle otto alle diciannove, e il sabato dalle otto alle quattordici.
menu_main|Per i servizi al cittadino, premere uno. Per l'assistenza tecnica, premere due. Per altre informazioni, premere tre.
menu_area2|Per una domanda amministrativa, premere uno. Per un problema tecnico o applicativo, premere due.
invalid_choice|La scelta non è valida.
no_input|Non abbiamo ricevuto alcuna scelta.
goodbye|Grazie per aver chiamato il Comune di Esempio. Arrivederci.
out_of_hours|Il servizio è chiuso in questo momento. Siamo a disposizione dal lunedì al venerdì dalle otto alle diciannove, e il sabato dalle otto alle quattordici.
voicemail_offer|Per lasciare un messaggio, premere uno, oppure restare in linea.
voicemail_greeting|Lasciate il vostro messaggio dopo il segnale acustico. Per terminare, premere cancelletto.
voicemail_too_long|Il messaggio ha raggiunto la durata massima.
voicemail_saved|Il messaggio è stato registrato. Grazie.
pin_request|Digitare il PIN di cinque cifre, seguito dal tasto cancelletto.
pin_invalid|Il PIN inserito non è valido.
identified|Grazie, l'identificazione è avvenuta.
not_identified|Non è stato possibile completare l'identificazione. La chiamata prosegue.
queue_intro|Tutti i nostri operatori sono occupati. Restate in linea, per favore.
queue_position|Lei è il numero
queue_in_line|in coda.
queue_wait|Il tempo di attesa previsto è di circa
minute|minuto.
minutes|minuti.
less_than_a_minute|meno di un minuto.
transfer|Restate in linea, stiamo trasferendo la chiamata.
num_0|zero
num_1|uno
num_2|due
num_3|tre
num_4|quattro
num_5|cinque
num_6|sei
num_7|sette
num_8|otto
num_9|nove
num_10|dieci
num_11|undici
num_12|dodici
num_13|tredici
num_14|quattordici
num_15|quindici
num_16|sedici
num_17|diciassette
num_18|diciotto
num_19|diciannove
num_20|venti
num_30|trenta
num_40|quaranta
num_50|cinquanta
num_60|sessanta
num_70|settanta
num_80|ottanta
num_90|novanta
num_100|cento
EOF
}

texts_en() {
    cat <<'EOF'
welcome|Welcome to the citizen helpline of Example Town Council. The service is open Monday to Friday from eight a.m. to seven p.m., and Saturday from eight a.m. to two p.m.
menu_main|For citizen services, press one. For technical assistance, press two. For other information, press three.
menu_area2|For an administrative question, press one. For a technical or application problem, press two.
invalid_choice|Sorry, that is not a valid choice.
no_input|We did not receive your choice.
goodbye|Thank you for calling Example Town Council. Goodbye.
out_of_hours|The service is closed at the moment. We are available Monday to Friday from eight a.m. to seven p.m., and Saturday from eight a.m. to two p.m.
voicemail_offer|To leave a message, press one, or stay on the line.
voicemail_greeting|Please leave your message after the tone. Press hash to finish.
voicemail_too_long|Your message has reached the maximum length.
voicemail_saved|Your message has been saved. Thank you.
pin_request|Please type your five digit PIN, followed by hash.
pin_invalid|The PIN you entered is not valid.
identified|Thank you, you have been identified.
not_identified|We could not identify you. Your call will continue.
queue_intro|All our operators are busy. Please hold.
queue_position|You are number
queue_in_line|in line.
queue_wait|The expected wait is about
minute|minute.
minutes|minutes.
less_than_a_minute|less than a minute.
transfer|Please hold while we transfer your call.
num_0|zero
num_1|one
num_2|two
num_3|three
num_4|four
num_5|five
num_6|six
num_7|seven
num_8|eight
num_9|nine
num_10|ten
num_11|eleven
num_12|twelve
num_13|thirteen
num_14|fourteen
num_15|fifteen
num_16|sixteen
num_17|seventeen
num_18|eighteen
num_19|nineteen
num_20|twenty
num_30|thirty
num_40|forty
num_50|fifty
num_60|sixty
num_70|seventy
num_80|eighty
num_90|ninety
num_100|one hundred
EOF
}

# beep: 1 kHz sine, 0.4 s, 5 ms fades against clicks. A pure tone normalised to -3 dBFS would be
# ~17 dB louder (RMS) than the speech prompts, so it peaks at -12 dBFS (RMS about -15 dBFS).
make_beep() {
    "${SOX[@]}" -n "${OUTFMT[@]}" "$1" synth 0.4 sine 1000 fade h 0.005 0.4 0.005 gain -n -12
}

# hold_music: 30 s, 4 bars of 7.5 s (Cmaj7 - Am7 - Fmaj7 - G6 at 64 bpm in eighths), each bar a
# soft triangle pad under a slow sine arpeggio with a gentle decay per note. Every bar starts and
# ends at silence-level amplitude (pad fades), so the file loops without a click.
make_hold_music() {
    local out="$1" d="$tmp/hold" bar=7.5 note=0.46875 # 16 notes per bar
    mkdir -p "$d"
    local chords=("C3 E3 G3 B3" "A2 C3 E3 G3" "F2 A2 C3 E3" "G2 B2 D3 E3")
    local arps=("C4 E4 G4 B4 C5 B4 G4 E4 C4 E4 G4 B4 D5 B4 G4 E4"
        "A3 C4 E4 G4 A4 G4 E4 C4 A3 C4 E4 G4 C5 G4 E4 C4"
        "F3 A3 C4 E4 F4 E4 C4 A3 F3 A3 C4 E4 A4 E4 C4 A3"
        "G3 B3 D4 E4 G4 E4 D4 B3 G3 B3 D4 E4 B4 D4 B3 G3")
    local i n bars=()
    for i in 0 1 2 3; do
        # pad: three/four triangle tones mixed, slow swell in and out.
        local tones=() t
        for t in ${chords[$i]}; do
            "${SOX[@]}" -n "${OUTFMT[@]}" "$d/pad_$t.wav" synth "$bar" triangle "$t" vol 0.12
            tones+=("$d/pad_$t.wav")
        done
        "${SOX[@]}" -m "${tones[@]}" "${OUTFMT[@]}" "$d/pad$i.wav" lowpass 900 fade q 1.2 "$bar" 1.2
        # arpeggio: short sine notes with a soft attack and long decay.
        local notes=() k=0
        for n in ${arps[$i]}; do
            "${SOX[@]}" -n "${OUTFMT[@]}" "$d/n$i-$k.wav" synth "$note" sine "$n" \
                fade q 0.015 "$note" 0.40 vol 0.30
            notes+=("$d/n$i-$k.wav")
            k=$((k + 1))
        done
        "${SOX[@]}" "${notes[@]}" "${OUTFMT[@]}" "$d/arp$i.wav"
        "${SOX[@]}" -m "$d/pad$i.wav" "$d/arp$i.wav" "${OUTFMT[@]}" "$d/bar$i.wav" \
            trim 0 "$bar" fade t 0.02 "$bar" 0.05
        bars+=("$d/bar$i.wav")
    done
    # a light echo for warmth; trimmed back to exactly 30 s, short fade at both ends for looping.
    # Peak -10 dBFS puts its RMS near -19 dBFS, just under the speech prompts (about -22 dBFS).
    "${SOX[@]}" "${bars[@]}" "${OUTFMT[@]}" "$out" \
        echo 0.8 0.6 120 0.25 trim 0 30 fade t 0.05 30 0.3 gain -n -10
}

langs=("$@")
[[ ${#langs[@]} -gt 0 ]] || langs=(it en)

for lang in "${langs[@]}"; do
    case "$lang" in
        it) texts=texts_it ;;
        en) texts=texts_en ;;
        *) echo "generate.sh: unknown language $lang (it, en)" >&2; exit 1 ;;
    esac
    mkdir -p "$here/$lang"
    count=0
    while IFS='|' read -r name text; do
        [[ -n "$name" ]] || continue
        say "$lang" "$name" "$text"
        count=$((count + 1))
    done < <("$texts")
    make_beep "$here/$lang/beep.wav"
    count=$((count + 1))
    echo "prompts/$lang: $count prompts (spoken + beep)"
done

# The same hold music in every language (git stores the identical blob once).
make_hold_music "$tmp/hold_music.wav"
for lang in "${langs[@]}"; do
    cp "$tmp/hold_music.wav" "$here/$lang/hold_music.wav"
done
echo "prompts: hold_music (30 s) copied to ${langs[*]}"
du -sh "$here" | awk '{print "prompts: total size " $1}'

#!/usr/bin/env bash
# Table II of the paper (large models): every row on LS ASR, ML-SUPERB Mono-1h / Multi-1h, SV, ER.
#   recipes/table2.sh OUT_DIR          (environment: see recipes/table_lib.sh)
# Rows (Table I's layout with the large models; our reading of Table II): single WavLM Large
# and Whisper Medium with WS and HConv; Data2Vec Large+WavLM Large with each interface;
# Whisper Medium + the best SSL model with each interface; Whisper Medium + the best two SSL
# models with HConv. Choose other presets with
#   WHISPER_BEST_SSL (default fused_wavlmlarge_whispermedium),
#   WHISPER_BEST_2_SSL (default fused_wavlmlarge_data2veclarge_whispermedium)
source "$(dirname "$0")/table_lib.sh"
TABLE_TITLE="table2"
WHISPER_BEST_SSL="${WHISPER_BEST_SSL:-fused_wavlmlarge_whispermedium}"
WHISPER_BEST_2_SSL="${WHISPER_BEST_2_SSL:-fused_wavlmlarge_data2veclarge_whispermedium}"
TABLE_ROWS="
wavlm_large-ws                    ws      hf_ssl                 microsoft/wavlm-large
wavlm_large-hconv                 hconv   hf_ssl                 microsoft/wavlm-large
whisper_medium-ws                 ws      whisper_medium
whisper_medium-hconv              hconv   whisper_medium
data2vec_wavlm_large-ws           ws      fused_data2veclarge_wavlmlarge
data2vec_wavlm_large-gumd         gumd    fused_data2veclarge_wavlmlarge
data2vec_wavlm_large-hconv        hconv   fused_data2veclarge_wavlmlarge
data2vec_wavlm_large-chconv       chconv  fused_data2veclarge_wavlmlarge
whisper_medium_best_ssl-ws        ws      $WHISPER_BEST_SSL
whisper_medium_best_ssl-gumd      gumd    $WHISPER_BEST_SSL
whisper_medium_best_ssl-hconv     hconv   $WHISPER_BEST_SSL
whisper_medium_best_ssl-chconv    chconv  $WHISPER_BEST_SSL
whisper_medium_best_2_ssl-hconv   hconv   $WHISPER_BEST_2_SSL
"
table_main "$@"

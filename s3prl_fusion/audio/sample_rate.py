"""The sample rate of every waveform the plugin's upstreams take and of the audio it reads."""

SAMPLE_RATE = 16000  # Hz

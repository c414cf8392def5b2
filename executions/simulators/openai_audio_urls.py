"""Routes of the simulated OpenAI audio API (speech and transcriptions), under /_sim/openai/."""

from django.urls import URLPattern, path

from . import openai_audio

urlpatterns: list[URLPattern] = [
    path("openai/v1/audio/speech", openai_audio.speech_view, name="sim-openai-speech"),
    path("openai/v1/audio/transcriptions", openai_audio.transcriptions_view,
         name="sim-openai-transcriptions"),
    path("openai/_audio_stats", openai_audio.stats_view, name="sim-openai-audio-stats"),
    path("openai/_audio_reset", openai_audio.reset_view, name="sim-openai-audio-reset"),
]

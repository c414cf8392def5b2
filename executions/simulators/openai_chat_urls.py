"""Routes of the simulated OpenAI chat completions API (the audio routes are
openai_audio_urls.py's, under the same /openai/v1/ prefix)."""

from django.urls import URLPattern, path

from . import openai_chat

urlpatterns: list[URLPattern] = [
    path("openai/v1/chat/completions", openai_chat.chat_completions_view,
         name="sim-openai-chat"),
    path("openai/_chat_stats", openai_chat.stats_view, name="sim-openai-chat-stats"),
    path("openai/_chat_reset", openai_chat.reset_view, name="sim-openai-chat-reset"),
]

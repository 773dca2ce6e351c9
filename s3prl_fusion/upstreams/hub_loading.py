"""A member checkpoint named by a Hugging Face id that cannot be loaded, as one message.

``transformers`` reports an id it cannot load as an ``OSError`` raised from ``huggingface_hub``'s
errors (the id is not in the local cache and the hub was not asked, or could not be reached, or
has no such repository). ``loading_from_hub`` turns that into a ``MemberLoadError`` naming the
member, the id, what the hub said, the nearest id the plugin knows (for a typo) and how to fetch
the checkpoint ahead for a machine without internet.
"""
from __future__ import annotations

import socket
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from s3prl_fusion.errors import UserError, did_you_mean
from s3prl_fusion.upstreams.known_shapes import KNOWN_SHAPES
from s3prl_fusion.upstreams.presets import SSL_CHECKPOINTS
from s3prl_fusion.upstreams.whisper_sizes import WHISPER_SIZES


class MemberLoadError(UserError, OSError):
    """A member's Hugging Face checkpoint is neither in the local cache nor loadable from the hub."""


def known_ids() -> list[str]:
    """The Hugging Face ids the presets and known shapes name."""
    ids = [*SSL_CHECKPOINTS.values(), *(size.checkpoint for size in WHISPER_SIZES.values()), *KNOWN_SHAPES]
    return sorted({name for name in ids if "/" in name})


@contextmanager
def loading_from_hub(member: str, source: str):
    """While member ``member`` loads ``source``: a Hugging Face id (not an existing local path)
    that cannot be loaded raises MemberLoadError."""
    from huggingface_hub.errors import HFValidationError

    try:
        yield
    except (OSError, HFValidationError) as error:
        if Path(source).exists() or isinstance(error, UserError):
            raise
        raise MemberLoadError(
            f"fused member {member}: cannot load the Hugging Face model {source}: {_hub_state(error)}.{_typo_hint(source)} "
            f"To load it without internet (e.g. on a compute node), fetch it ahead where the hub is reachable with `hf download {source}` "
            "(the same Hugging Face cache, HF_HOME, must be seen by the run), then run with HF_HUB_OFFLINE=1."
        ) from error


def _typo_hint(source: str) -> str:
    """`` Did you mean <known id>?`` for an id the plugin does not know but one it knows is near; a known id is no typo."""
    known = known_ids()
    return "" if source in known else did_you_mean(source, known, n=1, cutoff=0.8)


def _hub_state(error: BaseException) -> str:
    """What the hub said, from the chain of errors ``transformers`` raised."""
    from huggingface_hub import constants
    from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError

    chain = _chain(error)
    if any(isinstance(link, GatedRepoError) for link in chain):
        return f"the hub at {constants.ENDPOINT} says the repository is gated: accept its terms and log in (`hf auth login`)"
    if any(isinstance(link, RepositoryNotFoundError) for link in chain):
        return f"the hub at {constants.ENDPOINT} was reached and has no such repository (or it is private: log in with `hf auth login`)"
    if any(isinstance(link, HFValidationError) for link in chain):
        return "it is not a valid repository id (org/name) nor an existing local folder"
    if constants.HF_HUB_OFFLINE:
        return "it is not in the local Hugging Face cache and the hub was not asked (HF_HUB_OFFLINE=1)"
    unreachable = [link for link in chain if isinstance(link, (ConnectionError, TimeoutError)) or type(link).__name__ in ("ConnectError", "ConnectTimeout")]
    if unreachable or not _answers(constants.ENDPOINT):
        # huggingface_hub 1.5 ends its retries with "the client has been closed", not the connection's error: ask the endpoint
        reason = f" ({unreachable[-1]})" if unreachable else ""
        return f"it is not in the local Hugging Face cache and the hub at {constants.ENDPOINT} could not be reached{reason}"
    return f"the hub at {constants.ENDPOINT} was reached but the model could not be loaded ({str(error).splitlines()[0]})"


def _answers(endpoint: str, timeout: float = 5.0) -> bool:
    """Whether anything accepts a connection at ``endpoint``'s host and port."""
    address = urlsplit(endpoint)
    port = address.port or (443 if address.scheme == "https" else 80)
    try:
        socket.create_connection((address.hostname, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def _chain(error: BaseException | None) -> list[BaseException]:
    """``error`` and the errors it was raised from or during, outermost first."""
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain

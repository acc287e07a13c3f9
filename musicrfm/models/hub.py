"""Hub ids: decide up front whether a model can come from the Hub or only from the local cache.

Without this, `from_pretrained` on a machine with no network retries for half a minute before failing.
One metadata request (no retries) tells a reachable Hub from an unreachable one; an unreachable Hub with
the model cached loads from the cache, without it fails at once with one line.

>>> cache_only("facebook/musicgen-small", local_files_only=True)   # asked for: nothing is requested
True
"""

from __future__ import annotations

import httpx
from huggingface_hub import HfApi, constants, try_to_load_from_cache
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

PROBE_TIMEOUT_S = 5.0


def cache_only(repo_id: str, *, local_files_only: bool) -> bool:
    """True when `repo_id` must load from the local cache (asked for, offline mode, or the Hub unreachable
    but the model cached); False when the Hub answers. Raises when the model can come from neither."""
    if local_files_only or constants.HF_HUB_OFFLINE:
        return True
    try:
        HfApi().model_info(repo_id, timeout=PROBE_TIMEOUT_S)
    except (RepositoryNotFoundError, GatedRepoError) as exc:
        raise ValueError(f"model '{repo_id}' is not on the Hugging Face Hub or needs a login: "
                         f"{str(exc).splitlines()[0]}") from exc
    except (httpx.HTTPError, OSError) as exc:
        if isinstance(try_to_load_from_cache(repo_id, "config.json"), str):
            return True
        raise OSError(f"model '{repo_id}' is not in the local cache and the Hugging Face Hub cannot be reached "
                      f"({type(exc).__name__}); pass a local folder") from exc
    return False

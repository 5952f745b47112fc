"""Training content: typed modules read from YAML, checked, and scored."""

from lti_tool.content.loader import check, load_content, read_content
from lti_tool.content.model import (
    Choice,
    Content,
    ContentInvalid,
    ContentProblem,
    Curriculum,
    DecisionScreen,
    EndScreen,
    Image,
    Module,
    Screen,
    TeachScreen,
)
from lti_tool.content.registry import BUILT_IN, configured_paths, get_content
from lti_tool.content.scoring import max_points, passed, score

__all__ = [
    "BUILT_IN",
    "Choice",
    "Content",
    "ContentInvalid",
    "ContentProblem",
    "Curriculum",
    "DecisionScreen",
    "EndScreen",
    "Image",
    "Module",
    "Screen",
    "TeachScreen",
    "check",
    "configured_paths",
    "get_content",
    "load_content",
    "max_points",
    "passed",
    "read_content",
    "score",
]

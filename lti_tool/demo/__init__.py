"""The demo LMS: a small but genuine LTI 1.3 platform that talks to the tool only over HTTP."""

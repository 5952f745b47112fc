"""Why an LTI request was refused: one exception per check, each with a message for the learner
and a hint for the LMS administrator."""

from __future__ import annotations


class LtiError(Exception):
    """Base of every refusal; ``code`` is stable and names the check that failed."""

    code = "lti_error"
    status = 400
    message = "The launch from your learning system could not be accepted."
    hint = "Ask your LMS administrator to check the Upstander registration."

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail
        super().__init__(f"{self.code}: {detail or self.message}")


def _error(code: str, message: str, hint: str, status: int = 400) -> type[LtiError]:
    return type(code.title().replace("_", ""), (LtiError,), {
        "code": code, "message": message, "hint": hint, "status": status,
    })


_REG = "Ask your LMS administrator to check the Upstander registration (issuer, client id, deployment)."
_RETRY = "Go back to your course and open the activity again."
_PLATFORM = "Report this to your LMS administrator: the platform sent an invalid launch message."

# Login (OIDC third-party initiated login)
LoginParamsInvalid = _error("login_params_invalid", "The login request is incomplete.", _PLATFORM)
PlatformUnknown = _error("platform_unknown", "This learning system is not registered with Upstander.", _REG)
DeploymentUnknown = _error("deployment_unknown", "This deployment is not registered with Upstander.", _REG)
TargetLinkInvalid = _error("target_link_invalid", "The launch asks for a page outside Upstander.", _PLATFORM)
# State (cross-site request forgery protection)
StateMissing = _error("state_missing", "The launch arrived without its login state.", _RETRY)
StateUnknown = _error("state_unknown", "This launch has expired or was already used.", _RETRY)
StateMismatch = _error(
    "state_mismatch", "This launch was started in another browser window or session.",
    "If this keeps happening, your browser may be blocking cookies for Upstander: open it in a new window.",
)
# The id_token itself
TokenMissing = _error("token_missing", "The launch arrived without an identity token.", _PLATFORM)
TokenMalformed = _error("token_malformed", "The identity token could not be read.", _PLATFORM)
AlgorithmNotAllowed = _error("algorithm_not_allowed", "The identity token is not signed with RS256.", _PLATFORM)
KidMissing = _error("kid_missing", "The identity token does not say which key signed it.", _PLATFORM)
KidUnknown = _error("kid_unknown", "The identity token was signed with a key the platform does not publish.", _REG)
KeySetUnavailable = _error(
    "keyset_unavailable", "Upstander could not fetch the learning system's public keys.",
    "Check that the platform's key set URL is reachable from Upstander.", status=502,
)
SignatureInvalid = _error("signature_invalid", "The identity token's signature is not valid.", _PLATFORM)
IssuerMismatch = _error("issuer_mismatch", "The identity token comes from another issuer than the login.", _REG)
AudienceMismatch = _error("audience_mismatch", "The identity token is not addressed to Upstander.", _REG)
AzpMismatch = _error("azp_mismatch", "The identity token's authorised party is not Upstander.", _REG)
TokenExpired = _error("token_expired", "The identity token has expired.", _RETRY)
TokenFromFuture = _error(
    "token_from_future", "The identity token was issued in the future.",
    "Check the clock of the learning system's server.",
)
NonceMissing = _error("nonce_missing", "The identity token has no nonce.", _PLATFORM)
NonceMismatch = _error("nonce_mismatch", "The identity token does not belong to this login.", _RETRY)
NonceReplayed = _error("nonce_replayed", "This launch was already used once.", _RETRY)
VersionInvalid = _error("version_invalid", "The launch is not an LTI 1.3.0 message.", _PLATFORM)
MessageTypeInvalid = _error("message_type_invalid", "Upstander does not support this kind of launch.", _PLATFORM)
ClaimMissing = _error("claim_missing", "The launch message is missing required information.", _PLATFORM)
ClaimInvalid = _error("claim_invalid", "The launch message carries a value Upstander cannot accept.", _PLATFORM)
# After the launch
SessionMissing = _error(
    "session_missing", "Your Upstander session has ended or could not be found.",
    "Open the activity again from your course. If it keeps happening, allow cookies for Upstander.",
    status=401,
)
CsrfInvalid = _error("csrf_invalid", "This form has expired. Go back and try again.", _RETRY, status=400)
RegistrationFailed = _error(
    "registration_failed", "Upstander could not complete the registration with your learning system.",
    "Check the registration URL and token the platform gave, then try again.",
)
StaleForm = _error(
    "stale_form", "This page is out of date, so nothing was changed.",
    "Use the button below to see where you are now. This happens after going back in the browser, "
    "submitting twice, or working in two tabs.", status=409,
)

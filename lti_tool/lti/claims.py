"""Claim names and values of LTI 1.3 (https://www.imsglobal.org/spec/lti/v1p3/) and its services."""

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = LTI + "message_type"
VERSION = LTI + "version"
DEPLOYMENT_ID = LTI + "deployment_id"
TARGET_LINK_URI = LTI + "target_link_uri"
RESOURCE_LINK = LTI + "resource_link"
ROLES = LTI + "roles"
CONTEXT = LTI + "context"
TOOL_PLATFORM = LTI + "tool_platform"
CUSTOM = LTI + "custom"
LAUNCH_PRESENTATION = LTI + "launch_presentation"

# Deep Linking 2.0 (https://www.imsglobal.org/spec/lti-dl/v2p0)
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
DEEP_LINKING_SETTINGS = DL + "deep_linking_settings"
DL_CONTENT_ITEMS = DL + "content_items"
DL_DATA = DL + "data"
DL_MSG = DL + "msg"

# Assignment and Grade Services 2.0 and Names and Role Provisioning Services 2.0
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
TOOL_SCOPES = (SCOPE_LINEITEM, SCOPE_SCORE, SCOPE_RESULT_READONLY, SCOPE_NRPS)

# LTI Dynamic Registration 1.0 (https://www.imsglobal.org/spec/lti-dr/v1p0)
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"
SUPPORTED_MESSAGES = (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST)
LTI_VERSION = "1.3.0"

# Only RS256 is allowed for LTI 1.3 id_tokens (1EdTech Security Framework §5.1.3).
ALGORITHM = "RS256"

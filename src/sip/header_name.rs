//! Header names: well-known headers as variants (compact forms folded in), others kept verbatim.
//!
//! Names compare case-insensitively (RFC 3261 §7.3.1); the parser maps every spelling of a known
//! header, and its compact form, to one variant so the rest of the daemon matches on an enum.

use super::bytestr::ByteStr;

macro_rules! header_names {
    ($( $(#[$doc:meta])* $variant:ident => $canon:literal, $compact:expr; )*) => {
        /// A SIP header name.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum HeaderName {
            $( $(#[$doc])* $variant, )*
            /// Any other header, with the spelling it arrived with.
            Other(ByteStr),
        }

        impl HeaderName {
            /// The canonical (long) spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( HeaderName::$variant => $canon, )*
                    HeaderName::Other(s) => s.as_str(),
                }
            }

            /// Finds the known header for `name` (any case, compact forms included).
            // Inlined into the parser: out of line, the call was ~90 instructions per header.
            #[inline]
            pub(crate) fn known(name: &[u8]) -> Option<HeaderName> {
                if name.len() == 1 {
                    let c = name[0].to_ascii_lowercase();
                    $( if let Some(k) = $compact { if k == c { return Some(HeaderName::$variant); } } )*
                    return None;
                }
                $( if name.eq_ignore_ascii_case($canon.as_bytes()) { return Some(HeaderName::$variant); } )*
                None
            }
        }
    };
}

header_names! {
    /// Via (v).
    Via => "Via", Some(b'v');
    /// From (f).
    From => "From", Some(b'f');
    /// To (t).
    To => "To", Some(b't');
    /// Call-ID (i).
    CallId => "Call-ID", Some(b'i');
    /// CSeq.
    CSeq => "CSeq", None::<u8>;
    /// Contact (m).
    Contact => "Contact", Some(b'm');
    /// Max-Forwards.
    MaxForwards => "Max-Forwards", None::<u8>;
    /// Route.
    Route => "Route", None::<u8>;
    /// Record-Route.
    RecordRoute => "Record-Route", None::<u8>;
    /// Content-Length (l).
    ContentLength => "Content-Length", Some(b'l');
    /// Content-Type (c).
    ContentType => "Content-Type", Some(b'c');
    /// Content-Encoding (e).
    ContentEncoding => "Content-Encoding", Some(b'e');
    /// Expires.
    Expires => "Expires", None::<u8>;
    /// Min-Expires.
    MinExpires => "Min-Expires", None::<u8>;
    /// Authorization.
    Authorization => "Authorization", None::<u8>;
    /// Proxy-Authorization.
    ProxyAuthorization => "Proxy-Authorization", None::<u8>;
    /// WWW-Authenticate.
    WwwAuthenticate => "WWW-Authenticate", None::<u8>;
    /// Proxy-Authenticate.
    ProxyAuthenticate => "Proxy-Authenticate", None::<u8>;
    /// Allow.
    Allow => "Allow", None::<u8>;
    /// Supported (k).
    Supported => "Supported", Some(b'k');
    /// Require.
    Require => "Require", None::<u8>;
    /// Proxy-Require.
    ProxyRequire => "Proxy-Require", None::<u8>;
    /// Unsupported.
    Unsupported => "Unsupported", None::<u8>;
    /// Accept.
    Accept => "Accept", None::<u8>;
    /// User-Agent.
    UserAgent => "User-Agent", None::<u8>;
    /// Server.
    Server => "Server", None::<u8>;
    /// Date.
    Date => "Date", None::<u8>;
    /// Subject (s).
    Subject => "Subject", Some(b's');
    /// Event (o).
    Event => "Event", Some(b'o');
    /// Allow-Events (u).
    AllowEvents => "Allow-Events", Some(b'u');
    /// Refer-To (r).
    ReferTo => "Refer-To", Some(b'r');
    /// Referred-By (b).
    ReferredBy => "Referred-By", Some(b'b');
    /// Session-Expires (x).
    SessionExpires => "Session-Expires", Some(b'x');
    /// Accept-Contact (a).
    AcceptContact => "Accept-Contact", Some(b'a');
    /// Reject-Contact (j).
    RejectContact => "Reject-Contact", Some(b'j');
    /// Request-Disposition (d).
    RequestDisposition => "Request-Disposition", Some(b'd');
    /// Identity (y).
    Identity => "Identity", Some(b'y');
    /// Path (RFC 3327).
    Path => "Path", None::<u8>;
    /// Retry-After.
    RetryAfter => "Retry-After", None::<u8>;
    /// Warning.
    Warning => "Warning", None::<u8>;
    /// Call-Info.
    CallInfo => "Call-Info", None::<u8>;
    /// User-to-User (RFC 7433).
    UserToUser => "User-to-User", None::<u8>;
    /// Session-ID (RFC 7989).
    SessionId => "Session-ID", None::<u8>;
    /// History-Info (RFC 7044).
    HistoryInfo => "History-Info", None::<u8>;
    /// P-Asserted-Identity (RFC 3325).
    PAssertedIdentity => "P-Asserted-Identity", None::<u8>;
    /// Timestamp.
    Timestamp => "Timestamp", None::<u8>;
}

impl HeaderName {
    /// Parses a header name as received; `raw` is kept for unknown headers.
    pub fn parse(raw: ByteStr) -> HeaderName {
        HeaderName::known(raw.as_bytes()).unwrap_or(HeaderName::Other(raw))
    }

    /// Case-insensitive match against a name spelled in full or compact form.
    pub fn is(&self, name: &str) -> bool {
        match HeaderName::known(name.as_bytes()) {
            Some(k) => &k == self,
            None => matches!(self, HeaderName::Other(s) if s.eq_ignore_ascii_case(name)),
        }
    }

    /// Whether a line of this header may carry several comma-separated values that the parser
    /// splits into one entry each (RFC 3261 §7.3.1). Authentication headers are not lists of
    /// this kind: their commas separate parameters.
    pub fn is_list(&self) -> bool {
        matches!(self, HeaderName::Via | HeaderName::Contact | HeaderName::Route | HeaderName::RecordRoute | HeaderName::Path)
    }
}

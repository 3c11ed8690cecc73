//! Metric label values that must stay few and static.
//!
//! Label values become time series, so they come from short fixed sets and are `&'static
//! str`: building them costs no allocation on the request path.

/// The `status` label of an HTTP response: the code itself for the codes clickhook answers
/// with, the class (`"2xx"`, ...) for any other.
pub fn status(code: u16) -> &'static str {
    match code {
        200 => "200",
        201 => "201",
        204 => "204",
        301 => "301",
        302 => "302",
        303 => "303",
        304 => "304",
        307 => "307",
        308 => "308",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        413 => "413",
        415 => "415",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => match code / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_are_themselves_others_their_class() {
        for code in [200u16, 302, 404, 405, 422, 503] {
            assert_eq!(status(code), code.to_string());
        }
        assert_eq!(status(299), "2xx");
        assert_eq!(status(418), "4xx");
        assert_eq!(status(599), "5xx");
        assert_eq!(status(999), "5xx");
        assert_eq!(status(101), "1xx");
    }
}

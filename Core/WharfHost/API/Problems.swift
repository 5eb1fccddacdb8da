import WharfHTTP

/// Why a parsed request body was refused: a problem with the body as a whole (415, 400), or the invalid fields
/// for `Problems.validationFailed` (422), so a parser can report either without choosing the response.
enum InputFailure: Error {
    case problem(ProblemDetails)
    case invalid([(field: String?, reason: String)])
}

/// The problem types Wharf's REST API answers with (RFC 9457). Each `type` URI is stable: clients may switch on it.
enum Problems {
    static let base = "https://wharf.dev/problems/"

    static func unauthorized(_ detail: String) -> ProblemDetails {
        ProblemDetails(type: base + "unauthorized", title: "Unauthorized", status: 401, detail: detail, instance: nil)
    }

    static func forbidden(_ detail: String) -> ProblemDetails {
        ProblemDetails(type: base + "forbidden", title: "Forbidden", status: 403, detail: detail, instance: nil)
    }

    static func notFound(_ detail: String) -> ProblemDetails {
        ProblemDetails(type: base + "not-found", title: "Not Found", status: 404, detail: detail, instance: nil)
    }

    static func badRequest(_ detail: String) -> ProblemDetails {
        ProblemDetails(type: base + "invalid-request", title: "Bad Request", status: 400, detail: detail, instance: nil)
    }

    /// 409: the request clashes with what is stored or running; `instance` points at the existing resource, if one.
    static func conflict(_ detail: String, instance: String? = nil) -> ProblemDetails {
        ProblemDetails(type: base + "conflict", title: "Conflict", status: 409, detail: detail, instance: instance)
    }

    static func unsupportedMediaType(_ detail: String) -> ProblemDetails {
        ProblemDetails(
            type: base + "unsupported-media-type", title: "Unsupported Media Type", status: 415, detail: detail,
            instance: nil)
    }

    static func internalError(_ detail: String) -> ProblemDetails {
        ProblemDetails(type: base + "internal", title: "Internal Server Error", status: 500, detail: detail, instance: nil)
    }

    /// 422 with one entry per invalid field, so a client can show every mistake at once.
    static func validationFailed(_ errors: [(field: String?, reason: String)]) -> HTTPResponse {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("type", base + "validation-failed")
        writer.field("title", "Validation Failed")
        writer.field("status", Int64(422))
        writer.field(
            "detail",
            errors.count == 1 ? errors[0].reason : "\(errors.count) fields are invalid; see errors")
        writer.key("errors")
        writer.beginArray()
        for error in errors {
            writer.beginObject()
            writer.field("field", error.field)
            writer.field("reason", error.reason)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        var response = HTTPResponse(status: 422, body: writer.bytes)
        response.headers.replaceOrAdd(name: "Content-Type", value: "application/problem+json")
        return response
    }
}

import WharfAuth
import WharfHTTP

/// One REST route: what it answers, which scope it needs, and how it is documented in `/openapi.json`.
///
/// Routes are declared once, in `RESTAPI.routes`; the router and the OpenAPI document are both made from that
/// list, and a test checks that every route the router answers is documented and every documented route answers.
public struct APIRoute: Sendable {
    /// The HTTP method.
    public let method: HTTPMethod
    /// The path pattern, with `{name}` for path parameters (as in OpenAPI).
    public let path: String
    /// The API key scope the route needs, or nil for an open route (only `/health`).
    public let scope: Scope?
    /// The OpenAPI operationId.
    public let operationID: String
    /// One line for the documentation.
    public let summary: String
    /// The OpenAPI tag (group).
    public let tag: String
    /// Path and query parameters.
    public let parameters: [APIParameter]
    /// The schema name of the JSON request body, if the route takes one.
    public let requestSchema: String?
    /// The answers the route gives.
    public let responses: [APIResponse]
    /// The handler, run after the scope check.
    let handler: Router.Handler
}

/// A path or query parameter of a route.
public struct APIParameter: Sendable {
    /// Where the parameter is.
    public enum Location: String, Sendable { case path, query }
    /// The parameter's name.
    public let name: String
    /// Path or query.
    public let location: Location
    /// JSON schema type: "string" or "integer".
    public let type: String
    /// What it means, for the documentation.
    public let description: String

    static func path(_ name: String, _ description: String, type: String = "string") -> APIParameter {
        APIParameter(name: name, location: .path, type: type, description: description)
    }

    static func query(_ name: String, _ description: String, type: String = "string") -> APIParameter {
        APIParameter(name: name, location: .query, type: type, description: description)
    }
}

/// One documented answer of a route.
public struct APIResponse: Sendable {
    /// The status code.
    public let status: Int
    /// What the answer means.
    public let description: String
    /// The schema name of the JSON body (nil for no body); problem answers use "Problem".
    public let schema: String?

    static func ok(_ schema: String, _ description: String = "OK") -> APIResponse {
        APIResponse(status: 200, description: description, schema: schema)
    }

    static func problem(_ status: Int, _ description: String) -> APIResponse {
        APIResponse(status: status, description: description, schema: "Problem")
    }

    /// The 401 and 403 every scoped route can answer, documented once so the routes cannot drift apart.
    static let authProblems = [APIResponse.problem(401, "Missing or invalid API key"), .problem(403, "The key lacks the scope")]
}

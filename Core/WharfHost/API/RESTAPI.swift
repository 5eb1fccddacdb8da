import Foundation
import WharfAuth
import WharfHTTP
import WharfManifest
import WharfModel
import WharfPlugins
import WharfStore

/// Wharf's REST API v1: the route table, its handlers, the scope check and the OpenAPI document.
public final class RESTAPI: Sendable {
    /// Every route, in documentation order.
    public let routes: [APIRoute]
    /// The router built from `routes`.
    public let router: Router
    /// `/openapi.json`, rendered once.
    public let openAPIDocument: [UInt8]
    private let deployment: Deployment

    /// The API of `deployment`; runs are started and cancelled through `coordinator`; `outbox` is notified when an
    /// order (or cancellation) is queued for the OMS; company registrations reach the CRM through `registration` (by
    /// default one with its own call pool).
    public init(
        deployment: Deployment, coordinator: RunCoordinator, outbox: OutboxSignal = OutboxSignal(),
        registration: CompanyRegistration? = nil
    ) {
        self.deployment = deployment
        let server = deployment.manifest.server
        let authenticator = Authenticator(store: deployment.store, throttle: AuthenticationThrottle(limits: .init(
            maxFailures: server.authMaxFailures, window: server.authFailureWindow, blockDuration: server.authBlockDuration)))
        let documentHolder = DocumentHolder()
        let metrics = Metrics()
        self.metrics = metrics
        let routes = RESTAPI.makeRoutes(
            deployment: deployment, coordinator: coordinator, documentHolder: documentHolder, metrics: metrics, outbox: outbox,
            registration: registration ?? CompanyRegistration(deployment: deployment, calls: CallPool(deployment: deployment)))
        self.routes = routes
        self.openAPIDocument = OpenAPIDocument.render(routes: routes)
        documentHolder.document = openAPIDocument
        var router = Router()
        let logger = deployment.logger
        for route in routes {
            let scope = route.scope
            let handler = route.handler
            let operation = route.operationID
            let pattern = route.path
            router.add(route.method, route.path) { request, parameters in
                RouteLabel.current?.pattern = pattern
                if let scope { try authenticator.authorize(request, scope: scope) }
                do {
                    return try handler(request, parameters)
                } catch let problem as ProblemDetails {
                    throw problem
                } catch {
                    // Internals (SQL, paths) go to the operator's log, not to the client.
                    logger.log(.error, "request failed", fields: [("operation", operation), ("error", "\(error)")])
                    throw Problems.internalError("the request could not be completed; the server log has the details (operation \(operation))")
                }
            }
        }
        self.router = router
    }

    /// Request counts and latencies, served at `/metrics`.
    public let metrics: Metrics

    /// Answers one request and records it in `metrics` under its route pattern.
    public func respond(to request: HTTPRequest) -> HTTPResponse {
        let label = RouteLabel()
        let start = ContinuousClock.now
        let response = RouteLabel.$current.withValue(label) { router.respond(to: request) }
        let elapsed = ContinuousClock.now - start
        metrics.observeRequest(
            route: label.pattern ?? "unmatched", method: request.method.rawValue, status: response.status,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        return response
    }

    // MARK: Not public

    private static func makeRoutes(
        deployment: Deployment, coordinator: RunCoordinator, documentHolder: DocumentHolder, metrics: Metrics,
        outbox: OutboxSignal, registration: CompanyRegistration
    ) -> [APIRoute] {
        let store = deployment.store
        var routes: [APIRoute] = []

        routes.append(APIRoute(
            method: .GET, path: "/health", scope: nil, operationID: "getHealth",
            summary: "Liveness: answers 200 while the server runs.", tag: "Operations", parameters: [],
            requestSchema: nil, responses: [.ok("Health")]
        ) { _, _ in
            json { $0.beginObject(); $0.field("status", "ok"); $0.endObject() }
        })

        routes.append(APIRoute(
            method: .GET, path: "/openapi.json", scope: Scope.metaRead, operationID: "getOpenAPI",
            summary: "This API's OpenAPI 3.1 document.", tag: "Operations", parameters: [], requestSchema: nil,
            responses: [.ok("OpenAPIDocument")] + APIResponse.authProblems
        ) { _, _ in
            HTTPResponse.json(200, documentHolder.document)
        })

        routes.append(APIRoute(
            method: .GET, path: "/metrics", scope: Scope.metricsRead, operationID: "getMetrics",
            summary: "Prometheus metrics: HTTP requests by route and status with latency histograms; runs by connector and state, records read/written/unchanged/rejected, run duration histograms; database size.",
            tag: "Operations", parameters: [], requestSchema: nil,
            responses: [APIResponse(status: 200, description: "Prometheus text exposition format 0.0.4", schema: nil)] + APIResponse.authProblems
        ) { _, _ in
            var text = metrics.renderHTTP()
            text += Metrics.renderRuns(try store.runStatistics(durationBounds: Metrics.runBuckets.map { Int64($0 * 1000) }))
            let size = ["", "-wal"].reduce(Int64(0)) { total, suffix in
                let attributes = try? FileManager.default.attributesOfItem(atPath: store.path + suffix)
                return total + ((attributes?[.size] as? NSNumber)?.int64Value ?? 0)
            }
            text += Metrics.renderOutbox(try store.outboxDepth())
            text += "# HELP wharf_database_size_bytes Size of the SQLite database file and its write-ahead log.\n"
            text += "# TYPE wharf_database_size_bytes gauge\nwharf_database_size_bytes \(size)\n"
            var response = HTTPResponse(status: 200, body: Array(text.utf8))
            response.headers.replaceOrAdd(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            return response
        })

        routes.append(APIRoute(
            method: .GET, path: "/v1/products", scope: Scope.catalogRead, operationID: "listProducts",
            summary: "Lists products in SKU order, a page at a time.", tag: "Catalog",
            parameters: [
                .query("limit", "Page size, 1 to 1000 (default 100).", type: "integer"),
                .query("cursor", "The nextCursor of the previous page."),
                .query("skuPrefix", "Only SKUs that start with this text."),
                .query("status", "Only products with this status: active or inactive."),
                .query("updatedSince", "Only products changed at or after this RFC 3339 time."),
            ],
            requestSchema: nil, responses: [.ok("ProductPage"), .problem(400, "A parameter is invalid")] + APIResponse.authProblems
        ) { request, _ in
            let limit = try limitParameter(request)
            var query = Store.ProductQuery(limit: limit)
            query.after = try cursorParameter(request)
            query.skuPrefix = request.query("skuPrefix")
            query.status = try enumParameter(request, "status", choices: "active or inactive")
            if let since = try timeParameter(request, "updatedSince") { query.updatedSince = since }
            let page = try store.products(query)
            return pageResponse(page.items, nextKey: page.nextAfter) { Encoding.product($0, prices: nil, into: &$1) }
        })

        let skuParameter = APIParameter.path("sku", "The product's SKU.")
        routes.append(APIRoute(
            method: .GET, path: "/v1/products/{sku}", scope: Scope.catalogRead, operationID: "getProduct",
            summary: "One product with its base prices.", tag: "Catalog", parameters: [skuParameter],
            requestSchema: nil, responses: [.ok("Product"), .problem(404, "No such product")] + APIResponse.authProblems
        ) { _, parameters in
            let sku = parameters["sku"] ?? ""
            guard let (product, prices) = try store.productWithPrices(sku: sku) else {
                throw Problems.notFound("no product with SKU '\(sku)'")
            }
            return json(capacity: 512) { Encoding.product(product, prices: prices, into: &$0) }
        })

        routes.append(APIRoute(
            method: .PUT, path: "/v1/products/{sku}", scope: Scope.catalogWrite, operationID: "putProduct",
            summary: "Creates or replaces a product (its prices and stock are not touched).", tag: "Catalog",
            parameters: [skuParameter], requestSchema: "ProductInput",
            responses: [
                .ok("Product", "Updated or unchanged"), APIResponse(status: 201, description: "Created", schema: "Product"),
                .problem(400, "The body is not a JSON object"), .problem(415, "The body is not JSON"),
                APIResponse(status: 422, description: "Fields are invalid", schema: "ValidationProblem"),
            ] + APIResponse.authProblems
        ) { request, parameters in
            let sku = parameters["sku"] ?? ""
            let input: Product
            switch ProductInput.parse(request, sku: sku) {
            case .success(let product): input = product
            case .failure(.problem(let problem)): throw problem
            case .failure(.invalid(let errors)): return Problems.validationFailed(errors)
            }
            let (outcome, stored) = try store.putProduct(input)
            let prices = try store.basePrices(sku: sku)
            var response = json { Encoding.product(stored, prices: prices, into: &$0) }
            if outcome == .inserted { response.status = 201 }
            return response
        })

        routes.append(APIRoute(
            method: .DELETE, path: "/v1/products/{sku}", scope: Scope.catalogWrite, operationID: "deleteProduct",
            summary: "Deletes a product with its base prices and stock.", tag: "Catalog", parameters: [skuParameter],
            requestSchema: nil,
            responses: [APIResponse(status: 204, description: "Deleted", schema: nil), .problem(404, "No such product")]
                + APIResponse.authProblems
        ) { _, parameters in
            let sku = parameters["sku"] ?? ""
            guard try store.deleteProduct(sku: sku) else { throw Problems.notFound("no product with SKU '\(sku)'") }
            return HTTPResponse(status: 204)
        })

        routes.append(APIRoute(
            method: .GET, path: "/v1/inventory/{sku}", scope: Scope.inventoryRead, operationID: "getInventory",
            summary: "Stock of a SKU per source, the total, open reservations and the salable quantity (total minus reservations).", tag: "Inventory", parameters: [skuParameter],
            requestSchema: nil, responses: [.ok("Inventory"), .problem(404, "No product or stock for the SKU")] + APIResponse.authProblems
        ) { _, parameters in
            let sku = parameters["sku"] ?? ""
            guard let inventory = try store.salableInventory(sku: sku) else {
                throw Problems.notFound("no product and no stock for SKU '\(sku)'")
            }
            return json { OrderJSON.inventory(inventory, into: &$0) }
        })

        routes += BatchIngestion.routes(store: store)

        routes.append(APIRoute(
            method: .GET, path: "/v1/connectors", scope: Scope.connectorsRead, operationID: "listConnectors",
            summary: "The deployment's connectors, their plugins and their last run.", tag: "Operations",
            parameters: [], requestSchema: nil, responses: [.ok("ConnectorList")] + APIResponse.authProblems
        ) { _, _ in
            let installed = Dictionary(
                deployment.plugins.list(host: HostServices.table).plugins.map { ($0.id, $0) },
                uniquingKeysWith: { first, _ in first })
            var lastRuns: [String: Run] = [:]
            for connector in deployment.manifest.connectors {
                lastRuns[connector.name] = try store.runs(connector: connector.name, limit: 1, beforeID: nil).first
            }
            return json { writer in
                writer.beginObject()
                writer.key("items")
                writer.beginArray()
                for connector in deployment.manifest.connectors {
                    writer.beginObject()
                    writer.field("name", connector.name)
                    writer.field("plugin", connector.plugin)
                    writer.field("enabled", connector.enabled)
                    writer.field("schedule", connector.schedule)
                    writer.field("pluginInstalled", installed[connector.plugin] != nil)
                    writer.field("pluginVersion", installed[connector.plugin]?.version)
                    writer.key("lastRun")
                    if let run = lastRuns[connector.name] { Encoding.run(run, into: &writer) } else { writer.null() }
                    writer.endObject()
                }
                writer.endArray()
                writer.endObject()
            }
        })

        routes += RunRoutes.routes(deployment: deployment, coordinator: coordinator)
        routes += OrderRoutes.routes(store: store, outbox: outbox, prices: ResolvedPriceCheck(store: store))
        routes += CompanyRoutes.routes(deployment: deployment, registration: registration)
        routes += PricingRoutes.routes(store: store)
        routes += ExportRoutes.routes(deployment: deployment, coordinator: coordinator)

        routes.append(APIRoute(
            method: .GET, path: "/v1/runs", scope: Scope.runsRead, operationID: "listRuns",
            summary: "Runs, newest first, a page at a time.", tag: "Operations",
            parameters: [
                .query("connector", "Only runs of this connector."),
                .query("limit", "Page size, 1 to 1000 (default 100).", type: "integer"),
                .query("cursor", "The nextCursor of the previous page."),
            ],
            requestSchema: nil, responses: [.ok("RunPage"), .problem(400, "A parameter is invalid")] + APIResponse.authProblems
        ) { request, _ in
            // Runs page newest first: the cursor is the last id seen, and the next page is older.
            try idPage(request, fetch: { try store.runs(connector: request.query("connector"), limit: $0, beforeID: $1) }, id: \.id) {
                Encoding.run($0, into: &$1)
            }
        })

        let runIDParameter = APIParameter.path("id", "The run's id.", type: "integer")
        routes.append(APIRoute(
            method: .GET, path: "/v1/runs/{id}", scope: Scope.runsRead, operationID: "getRun",
            summary: "One run with its counts.", tag: "Operations", parameters: [runIDParameter], requestSchema: nil,
            responses: [.ok("Run"), .problem(404, "No such run")] + APIResponse.authProblems
        ) { _, parameters in
            let id = try runIDParameterValue(parameters)
            guard let run = try store.run(id: id) else { throw Problems.notFound("no run with id \(id)") }
            return json { Encoding.run(run, into: &$0) }
        })

        routes.append(APIRoute(
            method: .GET, path: "/v1/runs/{id}/rejects", scope: Scope.runsRead, operationID: "listRunRejects",
            summary: "Records a run rejected, with location, field and reason.", tag: "Operations",
            parameters: [
                runIDParameter, .query("limit", "Page size, 1 to 1000 (default 100).", type: "integer"),
                .query("cursor", "The nextCursor of the previous page."),
            ],
            requestSchema: nil, responses: [.ok("RejectPage"), .problem(404, "No such run")] + APIResponse.authProblems
        ) { request, parameters in
            let id = try runIDParameterValue(parameters)
            guard try store.run(id: id) != nil else { throw Problems.notFound("no run with id \(id)") }
            return try idPage(request, fetch: { try store.rejects(runID: id, limit: $0, afterID: $1) }, id: \.id) {
                Encoding.reject($0, into: &$1)
            }
        })

        routes.append(APIRoute(
            method: .GET, path: "/v1/runs/{id}/logs", scope: Scope.runsRead, operationID: "listRunLogs",
            summary: "What the run's plugin logged, in order.", tag: "Operations",
            parameters: [
                runIDParameter, .query("limit", "Page size, 1 to 1000 (default 100).", type: "integer"),
                .query("cursor", "The nextCursor of the previous page."),
            ],
            requestSchema: nil, responses: [.ok("RunLogPage"), .problem(404, "No such run")] + APIResponse.authProblems
        ) { request, parameters in
            let id = try runIDParameterValue(parameters)
            guard try store.run(id: id) != nil else { throw Problems.notFound("no run with id \(id)") }
            return try idPage(request, fetch: { try store.runLogs(runID: id, limit: $0, afterID: $1) }, id: \.id) { line, writer in
                writer.beginObject()
                writer.field("at", line.loggedAt.rfc3339)
                writer.field("level", line.level)
                writer.field("message", line.message)
                writer.endObject()
            }
        })

        routes.append(APIRoute(
            method: .GET, path: "/v1/plugins", scope: Scope.pluginsRead, operationID: "listPlugins",
            summary: "Installed plugins, and files in the plugin folder that are not valid plugins.", tag: "Operations",
            parameters: [], requestSchema: nil, responses: [.ok("PluginList")] + APIResponse.authProblems
        ) { _, _ in
            let listing = deployment.plugins.list(host: HostServices.table)
            return json { writer in
                writer.beginObject()
                writer.key("items")
                writer.beginArray()
                for plugin in listing.plugins { Encoding.plugin(plugin, into: &writer) }
                writer.endArray()
                writer.key("problems")
                writer.beginArray()
                for problem in listing.problems {
                    writer.beginObject()
                    writer.field("path", problem.path)
                    writer.field("message", problem.message)
                    writer.endObject()
                }
                writer.endArray()
                writer.endObject()
            }
        })

        return routes
    }
}

// MARK: Not public

/// The route pattern the router matched for the request being answered (set by the route's handler wrapper).
final class RouteLabel: @unchecked Sendable {
    // Written and read on the one thread answering the request.
    var pattern: String?
    @TaskLocal static var current: RouteLabel?
}

/// Holds the rendered OpenAPI document for the route that serves it (the route is part of the document).
private final class DocumentHolder: @unchecked Sendable {
    // Written once while the routes are built, before the server starts; read-only afterwards.
    var document: [UInt8] = []
}

/// A 200 JSON response written by `body`.
func json(capacity: Int = 256, _ body: (inout JSONWriter) -> Void) -> HTTPResponse {
    var writer = JSONWriter(capacity: capacity)
    body(&writer)
    return HTTPResponse.json(200, writer.bytes)
}

/// A 200 `{"items": [...], "nextCursor": ...}`, the shape of every paged list; `nextKey` is the key the next page
/// starts after (encoded here as an opaque cursor), nil on the last page.
func pageResponse<Items: Sequence>(
    _ items: Items, nextKey: String?, capacity: Int = 256, encode: (Items.Element, inout JSONWriter) -> Void
) -> HTTPResponse {
    json(capacity: capacity) { writer in
        writer.beginObject()
        writer.key("items")
        writer.beginArray()
        for item in items { encode(item, &writer) }
        writer.endArray()
        writer.field("nextCursor", nextKey.map(encodeCursor))
        writer.endObject()
    }
}

/// A page of an id-ordered list (ascending or descending, as `fetch` reads it): reads one item more than asked for to know whether a next page exists, and
/// answers `{"items": [...], "nextCursor": ...}` (the cursor is the last item's id).
func idPage<Item>(
    _ request: HTTPRequest, fetch: (_ limit: Int, _ afterID: Int64?) throws -> [Item], id: (Item) -> Int64,
    encode: (Item, inout JSONWriter) -> Void
) throws -> HTTPResponse {
    let limit = try limitParameter(request)
    let after = try cursorParameter(request).map { try idFromCursor($0) }
    let items = try fetch(limit + 1, after)
    let page = items.prefix(limit)
    return pageResponse(page, nextKey: items.count > limit ? page.last.map { String(id($0)) } : nil, encode: encode)
}

/// 415 when the request declares a body type other than JSON; no Content-Type passes, so `curl -d` works.
/// `what` names the body in the message ("the order"); nil says only "send application/json".
func requireJSONContentType(_ request: HTTPRequest, sending what: String?) throws(ProblemDetails) {
    if let type = request.headers["Content-Type"], !type.lowercased().hasPrefix("application/json") {
        throw Problems.unsupportedMediaType("send \(what.map { "\($0) as " } ?? "")application/json, not \(type)")
    }
}

/// The body as a JSON object, or 400; `example` shows the client the shape expected.
func jsonObjectBody(_ request: HTTPRequest, example: String? = nil) throws(ProblemDetails) -> [String: Any] {
    guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else {
        throw Problems.badRequest("the body must be a JSON object" + (example.map { " such as \($0)" } ?? ""))
    }
    return object
}

/// The `limit` query parameter: 100 when absent, 400 outside 1...1000 so one request cannot read a whole table.
func limitParameter(_ request: HTTPRequest) throws(ProblemDetails) -> Int {
    guard let text = request.query("limit") else { return 100 }
    guard let value = Int(text), (1...1000).contains(value) else {
        throw Problems.badRequest("limit must be a whole number from 1 to 1000, not '\(text)'")
    }
    return value
}

/// The query parameter `name` as an RFC 3339 time, nil when absent; 400 naming the parameter when it is not one.
func timeParameter(_ request: HTTPRequest, _ name: String) throws(ProblemDetails) -> Timestamp? {
    guard let text = request.query(name) else { return nil }
    guard let time = Timestamp(rfc3339: text) else {
        throw Problems.badRequest("\(name) must be an RFC 3339 time such as 2026-11-23T00:00:00Z, not '\(text)'")
    }
    return time
}

/// The query parameter `name` as one of `Value`'s cases, nil when absent; 400 listing `choices` when it is none.
func enumParameter<Value: RawRepresentable<String>>(
    _ request: HTTPRequest, _ name: String, choices: String
) throws(ProblemDetails) -> Value? {
    guard let text = request.query(name) else { return nil }
    guard let value = Value(rawValue: text) else { throw Problems.badRequest("\(name) must be \(choices), not '\(text)'") }
    return value
}

/// Cursors are opaque to clients (base64url of the last key), so their form can change without breaking anyone.
func encodeCursor(_ key: String) -> String {
    Data(key.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}

/// The key in the `cursor` query parameter, nil when absent; 400 when it is not a cursor this API gave out.
func cursorParameter(_ request: HTTPRequest) throws(ProblemDetails) -> String? {
    guard let text = request.query("cursor") else { return nil }
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64 += "=" }
    guard let data = Data(base64Encoded: base64), let key = String(data: data, encoding: .utf8), !key.isEmpty else {
        throw Problems.badRequest("cursor '\(text)' is not a cursor this API gave out; pass nextCursor from the previous page")
    }
    return key
}

/// The numeric id in a decoded cursor; 400 when the cursor came from a list keyed otherwise.
func idFromCursor(_ key: String) throws(ProblemDetails) -> Int64 {
    guard let id = Int64(key) else { throw Problems.badRequest("the cursor does not belong to this list") }
    return id
}

private func runIDParameterValue(_ parameters: RouteParameters) throws(ProblemDetails) -> Int64 {
    let text = parameters["id"] ?? ""
    guard let id = Int64(text), id > 0 else { throw Problems.notFound("no run with id '\(text)' (run ids are positive integers)") }
    return id
}

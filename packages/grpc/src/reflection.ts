import { createRegistry, type DescFile, type DescService, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import type { Readiness } from "@sluice/http";
import { file_google_rpc_error_details } from "@sluice/proto";
import { Health } from "@sluice/proto/health";
import * as v1 from "@sluice/proto/reflection/v1";
import * as v1alpha from "@sluice/proto/reflection/v1alpha";

import { registerHealth } from "./health";

/** A reflection request as both protocol versions spell it. */
type ReflectionRequest = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;

/** The answer to one request, before it is wrapped in the message of the caller's protocol version. */
type ReflectionAnswer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/** Every file the services are declared in, with their imports, in dependency order. */
function withDependencies(files: Iterable<DescFile>): DescFile[] {
  const seen = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (seen.has(file.name)) return;
    for (const dependency of file.dependencies) visit(dependency);
    seen.set(file.name, file);
  };
  for (const file of files) visit(file);
  return [...seen.values()];
}

/**
 * Answers reflection requests from the descriptors compiled into the generated code: the services'
 * files, `extraFiles` (types that travel inside google.protobuf.Any, such as error details) and every
 * file they import, so a client such as grpcurl can describe and call any method and decode any detail.
 */
export function createReflectionResolver(
  services: readonly DescService[],
  extraFiles: readonly DescFile[] = [],
): (request: ReflectionRequest) => ReflectionAnswer {
  const files = withDependencies([...services.map((service) => service.file), ...extraFiles]);
  const byName = new Map(files.map((file) => [file.proto.name, file]));
  const registry = createRegistry(...files);
  const encoded = new Map(files.map((file) => [file, toBinary(FileDescriptorProtoSchema, file.proto)]));
  const serviceNames = services.map((service) => ({ name: service.typeName }));

  const fileAnswer = (file: DescFile): ReflectionAnswer => ({
    case: "fileDescriptorResponse",
    value: { fileDescriptorProto: withDependencies([file]).map((f) => encoded.get(f) ?? new Uint8Array()) },
  });
  const notFound = (what: string): ReflectionAnswer => ({
    case: "errorResponse",
    value: { errorCode: Code.NotFound, errorMessage: `${what} not found` },
  });
  const fileOfSymbol = (symbol: string): DescFile | undefined => {
    const type = registry.get(symbol);
    if (type !== undefined) return type.file;
    // A method: its service declares it.
    const dot = symbol.lastIndexOf(".");
    const service = dot < 0 ? undefined : registry.getService(symbol.slice(0, dot));
    return service?.methods.some((method) => method.name === symbol.slice(dot + 1)) ? service.file : undefined;
  };

  return (request) => {
    const { messageRequest } = request;
    switch (messageRequest.case) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: serviceNames } };
      case "fileByFilename": {
        const file = byName.get(messageRequest.value);
        return file ? fileAnswer(file) : notFound(`file ${messageRequest.value}`);
      }
      case "fileContainingSymbol": {
        const file = fileOfSymbol(messageRequest.value);
        return file ? fileAnswer(file) : notFound(`symbol ${messageRequest.value}`);
      }
      case "allExtensionNumbersOfType": {
        const type = registry.getMessage(messageRequest.value);
        // No file of ours declares extensions, so a known type has none.
        return type
          ? { case: "allExtensionNumbersResponse", value: { baseTypeName: type.typeName, extensionNumber: [] } }
          : notFound(`type ${messageRequest.value}`);
      }
      case "fileContainingExtension":
        return notFound(`extension ${messageRequest.value.extensionNumber} of ${messageRequest.value.containingType}`);
      default:
        return { case: "errorResponse", value: { errorCode: Code.InvalidArgument, errorMessage: "empty reflection request" } };
    }
  };
}

/**
 * Serves gRPC server reflection, grpc.reflection.v1 and the v1alpha that older tools still call, for
 * `services` plus the two reflection services themselves, and the types declared in `extraFiles`.
 */
export function registerReflection(
  router: ConnectRouter,
  services: readonly DescService[],
  extraFiles: readonly DescFile[] = [],
): void {
  const resolve = createReflectionResolver([...services, v1.ServerReflection, v1alpha.ServerReflection], extraFiles);
  router.service(v1.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        yield { validHost: request.host, originalRequest: request, messageResponse: resolve(request) };
      }
    },
  });
  router.service(v1alpha.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        yield { validHost: request.host, originalRequest: request, messageResponse: resolve(request) };
      }
    },
  });
}

/**
 * What every Sluice gRPC server offers besides its own services: grpc.health.v1 over the app's
 * readiness, and reflection describing the services, the health protocol and the error details.
 */
export function registerStandardServices(
  router: ConnectRouter,
  options: { readiness: Readiness; services: readonly DescService[] },
): void {
  registerHealth(router, { readiness: options.readiness, services: options.services.map((service) => service.typeName) });
  // The error details every failed call carries, so tools can decode them.
  registerReflection(router, [...options.services, Health], [file_google_rpc_error_details]);
}

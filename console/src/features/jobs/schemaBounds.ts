// What the create form needs from the live OpenAPI document: the models this service serves and each
// parameter's bounds (the document is built from the model registry, so the form follows it).
import { useQuery } from "@tanstack/react-query";

export interface Bounds {
  minimum?: number;
  maximum?: number;
  multipleOf?: number;
  maxLength?: number;
  enum?: string[];
  description?: string;
}

export type RequestSchema = Record<string, Bounds>;

export function useRequestSchema() {
  return useQuery({
    queryKey: ["openapi"],
    staleTime: Infinity,
    queryFn: async (): Promise<RequestSchema> => {
      const response = await fetch("/openapi.json");
      if (!response.ok) throw new Error(`the API document answered ${response.status}`);
      const doc = (await response.json()) as {
        components: { schemas: { JobRequest: { properties: RequestSchema } } };
      };
      return doc.components.schemas.JobRequest.properties;
    },
  });
}

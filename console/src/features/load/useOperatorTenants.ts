import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";

/** The tenants the platform operator may look at (GET /v1/admin/tenants); null for anyone else (403):
 * the API decides who is an operator, the console only asks. */
export function useOperatorTenants(): string[] | null {
  const tenants = useQuery({
    queryKey: ["operator-tenants"],
    retry: false,
    staleTime: 60_000,
    queryFn: async () => {
      const { data, response } = await api.GET("/v1/admin/tenants");
      return response.ok && data ? data.data.map((t) => t.id).sort() : null;
    },
  });
  return tenants.data ?? null;
}

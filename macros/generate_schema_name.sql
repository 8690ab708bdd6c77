{# Schemas are the layer names themselves (raw, staging, intermediate, core, marts, audit),
   not <target>_<layer>: analysts query core.* and marts.* in every environment. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}

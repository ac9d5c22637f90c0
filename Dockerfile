# A read-only hosted dashboard over a results database built beforehand:
#   make database                          # builds data/demo.duckdb (or run any profile)
#   docker build -t mer-workbench .        # copies data/demo.duckdb into the image
#   docker run -p 8501:8501 mer-workbench  # http://localhost:8501
# MER_DB pins the database: the dashboard offers no other and opens it read-only.
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt pyproject.toml ./
# CPU wheels of torch/torchvision (the pins in requirements.txt match their +cpu builds).
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt
COPY engine engine
COPY precompute precompute
COPY dashboard dashboard
COPY .streamlit .streamlit
RUN pip install --no-cache-dir --no-deps -e .
COPY data/demo.duckdb data/demo.duckdb
ENV MER_DB=/app/data/demo.duckdb
EXPOSE 8501
CMD ["streamlit", "run", "dashboard/Home.py", "--server.address=0.0.0.0", "--server.port=8501"]
